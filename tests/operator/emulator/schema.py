"""Structural OpenAPI v3 schemas, validated and pruned as the API server does.

A CRD's schema is a *structural* subset of OpenAPI v3: every node has a type,
unknown fields are pruned (dropped) unless a node preserves them, and value
rules (enum, pattern, lengths, formats, list types) are checked after pruning.
This module implements that subset and nothing more; ``check_supported``
refuses any keyword it does not implement, so a CRD that starts using a new
one fails its tests loudly instead of being half-validated.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from tests.operator.emulator import errors
from tests.operator.emulator.errors import FieldError

Schema = Mapping[str, Any]

# Keywords understood here (value rules are checked, the rest is descriptive).
# x-kubernetes-validations are CEL rules: see cel.py.
KEYWORDS = frozenset(
    {
        "type",
        "description",
        "title",
        "example",
        "properties",
        "required",
        "items",
        "additionalProperties",
        "enum",
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "format",
        "nullable",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-int-or-string",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-map-type",
        "x-kubernetes-validations",
    }
)

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str) or not _DATE_TIME.match(value):
        return False
    try:  # the regex checks the shape, strptime the calendar (no 31 February)
        datetime.datetime.strptime(value[:19].upper(), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return False
    return True


def _is_date(value: object) -> bool:
    if not isinstance(value, str) or not _DATE.match(value):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


FORMATS: dict[str, Callable[[object], bool]] = {
    "uuid": lambda v: isinstance(v, str) and bool(_UUID.match(v)),
    "date-time": _is_date_time,
    "date": _is_date,
    "int32": lambda v: isinstance(v, int) and -(2**31) <= v < 2**31,
    "int64": lambda v: isinstance(v, int) and -(2**63) <= v < 2**63,
    "double": lambda v: True,
    "float": lambda v: True,
}

_TYPES: dict[str, Callable[[object], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


def json_type(value: object) -> str:
    if value is None:
        return "null"
    for name in ("boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](value):
            return name
    return type(value).__name__


def child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def check_supported(schema: Schema, path: str = "") -> None:
    """Raise if ``schema`` uses a keyword or format this module does not implement."""
    unknown = set(schema) - KEYWORDS
    if unknown:
        raise NotImplementedError(f"{path or '<root>'}: unsupported keywords {sorted(unknown)}")
    fmt = schema.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise NotImplementedError(f"{path or '<root>'}: unsupported format {fmt!r}")
    for sub_path, sub in _children(schema, path):
        check_supported(sub, sub_path)


def _children(schema: Schema, path: str) -> Iterator[tuple[str, Schema]]:
    for key, sub in schema.get("properties", {}).items():
        yield child(path, key), sub
    if isinstance(schema.get("items"), Mapping):
        yield f"{path}[*]", schema["items"]
    if isinstance(schema.get("additionalProperties"), Mapping):
        yield f"{path}[*]", schema["additionalProperties"]


def walk(schema: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    """Every node of ``schema`` with its path (``spec.amount``, ``status.conditions[*]``)."""
    yield path, schema
    for sub_path, sub in _children(schema, path):
        yield from walk(sub, sub_path)


# The root of a resource keeps these whatever the schema says (ObjectMeta has its own rules).
ROOT_FIELDS = ("apiVersion", "kind", "metadata")


def prune(schema: Schema, value: Any, path: str = "", *, root: bool = True) -> list[str]:
    """Drop fields the schema does not know (in place); return their paths."""
    pruned: list[str] = []
    if isinstance(value, dict) and not schema.get("x-kubernetes-int-or-string"):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        keep_unknown = bool(schema.get("x-kubernetes-preserve-unknown-fields")) or extra is True
        for key in list(value):
            sub_path = child(path, key)
            if root and key in ROOT_FIELDS:
                if key in props and key != "metadata":
                    pruned += prune(props[key], value[key], sub_path, root=False)
            elif key in props:
                pruned += prune(props[key], value[key], sub_path, root=False)
            elif isinstance(extra, Mapping):
                pruned += prune(extra, value[key], sub_path, root=False)
            elif not keep_unknown:
                del value[key]
                pruned.append(sub_path)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            pruned += prune(schema["items"], item, f"{path}[{index}]", root=False)
    return pruned


def validate(schema: Schema, value: Any, path: str = "") -> list[FieldError]:
    """Check ``value`` against the schema's value rules (after pruning)."""
    found: list[FieldError] = []
    _validate(schema, value, path, found)
    return found


def _validate(schema: Schema, value: Any, path: str, found: list[FieldError]) -> None:
    shown = path or "<root>"
    if value is None:
        if not schema.get("nullable"):
            expected = schema.get("type", "object")
            found.append(
                errors.type_invalid(
                    path, "null", f'{shown} in body must be of type {expected}: "null"'
                )
            )
        return
    if schema.get("x-kubernetes-int-or-string"):
        if not (_TYPES["integer"](value) or isinstance(value, str)):
            kind = json_type(value)
            detail = f'{shown} in body must be of type integer or string: "{kind}"'
            found.append(errors.type_invalid(path, kind, detail))
            return
    elif "type" in schema and not _TYPES[schema["type"]](value):
        kind = json_type(value)
        detail = f'{shown} in body must be of type {schema["type"]}: "{kind}"'
        found.append(errors.type_invalid(path, kind, detail))
        return

    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        found.append(errors.not_supported(path, value, list(schema["enum"])))
    if isinstance(value, str):
        _validate_string(schema, value, path, found)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _validate_number(schema, value, path, found)
    elif isinstance(value, list):
        _validate_array(schema, value, path, found)
    elif isinstance(value, dict):
        _validate_object(schema, value, path, found)


def _same(a: object, b: object) -> bool:
    # JSON equality: true is not 1, but 1 is 1.0.
    kinds = {json_type(a), json_type(b)}
    if kinds <= {"integer", "number"}:
        return a == b
    return len(kinds) == 1 and a == b


def _validate_string(schema: Schema, value: str, path: str, found: list[FieldError]) -> None:
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        found.append(errors.too_long(path, schema["maxLength"]))
    if "minLength" in schema and len(value) < schema["minLength"]:
        detail = f"{path} in body should be at least {schema['minLength']} chars long"
        found.append(errors.invalid(path, value, detail))
    if "pattern" in schema and not re.search(schema["pattern"], value):
        found.append(
            errors.invalid(path, value, f"{path} in body should match '{schema['pattern']}'")
        )
    fmt = schema.get("format")
    if fmt is not None and not FORMATS[fmt](value):
        found.append(
            errors.invalid(path, value, f"{path} in body must be of type {fmt}: {value!r}")
        )


def _validate_number(schema: Schema, value: float, path: str, found: list[FieldError]) -> None:
    if "minimum" in schema:
        low = schema["minimum"]
        if value < low or (schema.get("exclusiveMinimum") and value == low):
            relation = (
                "greater than" if schema.get("exclusiveMinimum") else "greater than or equal to"
            )
            found.append(errors.invalid(path, value, f"{path} in body should be {relation} {low}"))
    if "maximum" in schema:
        high = schema["maximum"]
        if value > high or (schema.get("exclusiveMaximum") and value == high):
            relation = "less than" if schema.get("exclusiveMaximum") else "less than or equal to"
            found.append(errors.invalid(path, value, f"{path} in body should be {relation} {high}"))
    if "multipleOf" in schema and value % schema["multipleOf"]:
        detail = f"{path} in body should be a multiple of {schema['multipleOf']}"
        found.append(errors.invalid(path, value, detail))
    fmt = schema.get("format")
    if fmt is not None and not FORMATS[fmt](value):
        found.append(errors.invalid(path, value, f"{path} in body must be of type {fmt}"))


def _validate_array(schema: Schema, value: list[Any], path: str, found: list[FieldError]) -> None:
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        found.append(errors.too_many(path, schema["maxItems"]))
    if "minItems" in schema and len(value) < schema["minItems"]:
        detail = f"{path} in body should have at least {schema['minItems']} items"
        found.append(errors.invalid(path, len(value), detail))
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value):
            _validate(items, item, f"{path}[{index}]", found)
    list_type = schema.get("x-kubernetes-list-type", "atomic")
    if list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys", [])
        seen: set[str] = set()
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            key = json.dumps({k: item.get(k) for k in keys}, sort_keys=True)
            if key in seen:
                found.append(errors.duplicate(f"{path}[{index}]", {k: item.get(k) for k in keys}))
            seen.add(key)
    elif list_type == "set" or schema.get("uniqueItems"):
        seen_items: set[str] = set()
        for index, item in enumerate(value):
            key = json.dumps(item, sort_keys=True)
            if key in seen_items:
                found.append(errors.duplicate(f"{path}[{index}]", item))
            seen_items.add(key)


def _validate_object(
    schema: Schema, value: dict[str, Any], path: str, found: list[FieldError]
) -> None:
    for name in schema.get("required", []):
        if name not in value:
            found.append(errors.required(child(path, name)))
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        if key in props:
            _validate(props[key], item, child(path, key), found)
        elif isinstance(extra, Mapping):
            _validate(extra, item, f"{path}[{key}]", found)
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        found.append(errors.too_many(path, schema["maxProperties"]))
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        detail = f"{path} in body should have at least {schema['minProperties']} properties"
        found.append(errors.invalid(path, len(value), detail))
