"""One fix to kmock 0.8's URL parser, applied once at import.

kmock reads ``/api/v1/namespaces`` and ``/api/v1/namespaces/NAME`` as a
namespace prefix with no resource after it (the first even crashes with a
ValueError, answered as a 500), so namespaces could not be listed, watched or
read -- and kopf lists and watches them when it serves named namespaces.
The replacement handles exactly those shapes (plus the namespace ``status``
and ``finalize`` subresources) and hands every other path to kmock's parser.
"""

from __future__ import annotations

from kmock._internal import parsing


def apply() -> None:
    original = parsing.parse_path
    if getattr(original, "vellet_fixed", False):
        return

    def parse_path(path: str) -> parsing.ParsedPath:
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "v1", "namespaces"] and (
            len(parts) <= 4 or (len(parts) == 5 and parts[4] in ("status", "finalize"))
        ):
            name = parts[3] if len(parts) >= 4 else None
            sub = parts[4] if len(parts) == 5 else None
            return parsing.ParsedPath("", "v1", "namespaces", None, name, sub)
        return original(path)

    parse_path.vellet_fixed = True  # type: ignore[attr-defined]
    parsing.parse_path = parse_path
