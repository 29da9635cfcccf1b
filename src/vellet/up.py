"""``vellet up``: the whole stack on one machine, with one command."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    """Filled in as components land."""
