"""JSON from outside the process: malformed is a ValueError, never a crash.

``json.loads("[" * 5000)`` raises RecursionError, not ValueError: the C
decoder counts nesting against the interpreter's recursion limit. That
error is a RuntimeError, so every ``except ValueError`` around a parse let
it through (a 500 from every HTTP service; a stream consumer retrying a
poison message instead of dead-lettering it). Anything that parses bytes
another party wrote goes through :func:`loads`.
"""

from __future__ import annotations

import json
from typing import Any


class TooDeep(ValueError):
    """The document nests deeper than the decoder can follow."""


def loads(raw: str | bytes | bytearray) -> Any:
    """``json.loads``, with nesting too deep for the decoder as a ValueError."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise TooDeep("JSON nested too deeply") from None
