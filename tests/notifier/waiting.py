"""Waiting for something to happen, without timing assertions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest


async def eventually(check: Callable[[], Any], what: str, timeout: float = 20.0) -> None:
    """Poll until ``check()`` (sync or async) is truthy; fail with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"timed out waiting for: {what}")
