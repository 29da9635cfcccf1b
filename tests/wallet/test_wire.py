"""The shared wire format: idempotency keys, timestamps. No servers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vellet.common.errors import InvalidRequest
from vellet.wallet import wire


@pytest.mark.parametrize(
    ("header", "ok"),
    [(None, False), ("", False), ("a" * 255, True), ("a" * 256, False), ("has space", False),
     ("ünï", False), ("order-1:retry/2", True)],
)  # fmt: skip
def test_idempotency_keys(header: str | None, ok: bool) -> None:
    if ok:
        assert wire.idempotency_key(header) == header
    else:
        with pytest.raises(InvalidRequest):
            wire.idempotency_key(header)


def test_timestamps_match_the_sql_rendering() -> None:
    stamp = datetime(2026, 1, 2, 3, 4, 5, 60, tzinfo=UTC)
    assert wire.timestamp(stamp) == "2026-01-02T03:04:05.000060Z"
