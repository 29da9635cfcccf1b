"""JSON merge patches (RFC 7386) and JSON patches (RFC 6902), as the API server applies them.

Kopf uses both: merge patches for status and annotations, JSON patches with a
``test`` of ``/metadata/resourceVersion`` for finalizers (optimistic
concurrency). kmock's own merge is close to RFC 7386 but cannot apply JSON
patches at all, hence this module.
"""

from __future__ import annotations

import copy
from typing import Any


class PatchError(Exception):
    """The patch cannot be applied (the API server answers 422)."""


class MalformedPatch(Exception):
    """The patch is not a patch at all (the API server answers 400)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902 on a copy of ``document``: add, remove, replace, move, copy, test."""
    if not isinstance(operations, list):
        raise MalformedPatch("a JSON patch must be a list of operations")
    doc = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise MalformedPatch(f"not a JSON patch operation: {operation!r}")
        doc = _apply(doc, operation)
    return doc


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise MalformedPatch(f"a JSON pointer starts with '/': {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> tuple[Any, str]:
    node = doc
    for part in parts[:-1]:
        node = _step(node, part, path)
    return node, parts[-1]


def _step(node: Any, part: str, path: str) -> Any:
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    raise PatchError(f"path {path!r} does not exist")


def _get(doc: Any, path: str) -> Any:
    node = doc
    for part in _pointer(path):
        node = _step(node, part, path)
    return node


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return copy.deepcopy(value)
    parent, last = _parent(doc, parts, path)
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        index = len(parent) if last == "-" else _index(last, len(parent) + 1, path)
        parent.insert(index, copy.deepcopy(value))
    else:
        raise PatchError(f"cannot add at {path!r}")
    return doc


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise PatchError("cannot remove the whole document")
    parent, last = _parent(doc, parts, path)
    if isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list):
        del parent[_index(last, len(parent), path)]
    else:
        raise PatchError(f"path {path!r} does not exist")
    return doc


def _index(part: str, limit: int, path: str) -> int:
    if not part.isdigit() or int(part) >= limit:
        raise PatchError(f"index out of range in {path!r}")
    return int(part)


def _apply(doc: Any, operation: dict[str, Any]) -> Any:
    op, path = operation["op"], operation["path"]
    if op == "add":
        return _add(doc, path, operation.get("value"))
    if op == "remove":
        return _remove(doc, path)
    if op == "replace":
        _get(doc, path)  # must exist
        return (
            _add(_remove(doc, path), path, operation.get("value")) if path else operation["value"]
        )
    if op in ("move", "copy"):
        value = copy.deepcopy(_get(doc, operation["from"]))
        if op == "move":
            doc = _remove(doc, operation["from"])
        return _add(doc, path, value)
    if op == "test":
        if _get(doc, path) != operation.get("value"):
            raise PatchError(f"test operation failed at {path!r}")
        return doc
    raise MalformedPatch(f"unknown JSON patch operation {op!r}")
