"""CEL validation rules (``x-kubernetes-validations``), evaluated with cel-python.

The API server runs each rule with ``self`` bound to the value of the schema
node that carries it. A rule that mentions ``oldSelf`` is a *transition rule*:
it runs only on updates, and only where the old object has a value at the same
place (object fields by name, ``listType: map`` items by their keys; other
list items cannot be correlated and their transition rules are skipped).

Rules here stay inside standard CEL (``has``, ``matches``, ``contains``,
``in``, ``size``), which cel-python and the API server evaluate alike; the
Kubernetes-only CEL libraries (quantity, url, ``split``...) are not
available, so a rule using them fails its tests instead of passing untested.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import celpy

from tests.operator.emulator import errors
from tests.operator.emulator.errors import FieldError
from tests.operator.emulator.schema import Schema, child, walk

ABSENT: Any = object()  # "no old value here": distinct from a JSON null

_OLD_SELF = re.compile(r"\boldSelf\b")
_FIELD_PATH = re.compile(r"^(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_ENV = celpy.Environment()


@functools.cache
def program(expression: str) -> celpy.Runner:
    """Compile once; raises ``celpy.CELParseError`` on a syntax error."""
    return _ENV.program(_ENV.compile(expression))


def is_transition_rule(rule: Mapping[str, Any]) -> bool:
    return bool(_OLD_SELF.search(rule["rule"]))


def compile_all(schema: Schema) -> int:
    """Compile every rule and message expression of ``schema``; return how many."""
    count = 0
    for path, node in walk(schema):
        for rule in node.get("x-kubernetes-validations", []):
            program(rule["rule"])
            if "messageExpression" in rule:
                program(rule["messageExpression"])
            if "fieldPath" in rule and not _FIELD_PATH.match(rule["fieldPath"]):
                raise NotImplementedError(f"{path}: unsupported fieldPath {rule['fieldPath']!r}")
            count += 1
    return count


def validate(schema: Schema, value: Any, old: Any = ABSENT, path: str = "") -> list[FieldError]:
    """Evaluate every rule that applies to ``value`` (and ``old`` on an update)."""
    found: list[FieldError] = []
    _walk(schema, value, old, path, found)
    return found


def _walk(schema: Schema, value: Any, old: Any, path: str, found: list[FieldError]) -> None:
    if value is None:
        return
    for rule in schema.get("x-kubernetes-validations", []):
        _check(rule, schema, value, old, path, found)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = props.get(key, extra if isinstance(extra, Mapping) else None)
            if sub is None:
                continue
            old_item = old.get(key, ABSENT) if isinstance(old, dict) else ABSENT
            sub_path = child(path, key) if key in props else f"{path}[{key}]"
            _walk(sub, item, old_item, sub_path, found)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            old_item = _correlate(schema, item, old)
            _walk(schema["items"], item, old_item, f"{path}[{index}]", found)


def _correlate(schema: Schema, item: Any, old: Any) -> Any:
    if schema.get("x-kubernetes-list-type") != "map" or not isinstance(old, list):
        return ABSENT
    keys = schema.get("x-kubernetes-list-map-keys", [])
    if not isinstance(item, dict):
        return ABSENT
    for candidate in old:
        if isinstance(candidate, dict) and all(candidate.get(k) == item.get(k) for k in keys):
            return candidate
    return ABSENT


def _evaluate(expression: str, activation: dict[str, Any]) -> Any:
    result = program(expression).evaluate(
        {name: celpy.json_to_cel(value) for name, value in activation.items()}
    )
    if isinstance(result, celpy.CELEvalError):
        raise result
    return result


def _check(
    rule: Mapping[str, Any],
    schema: Schema,
    value: Any,
    old: Any,
    path: str,
    found: list[FieldError],
) -> None:
    activation = {"self": value}
    if is_transition_rule(rule):
        if old is ABSENT or old is None:
            return  # a transition rule needs an old value at the same place
        activation["oldSelf"] = old
    kind = schema.get("type", "object")
    expression = rule["rule"]
    try:
        holds = _evaluate(expression, activation)
    except celpy.CELEvalError as err:
        found.append(errors.invalid(path, kind, f"{err.args[0]} evaluating rule: {expression}"))
        return
    if holds is True or (isinstance(holds, celpy.celtypes.BoolType) and bool(holds)):
        return
    message = _message(rule, activation)
    field = path + rule.get("fieldPath", "") if path else rule.get("fieldPath", "").lstrip(".")
    reason = rule.get("reason", "FieldValueInvalid")
    if reason == "FieldValueRequired":
        found.append(errors.required(field, message))
    elif reason == "FieldValueForbidden":
        found.append(errors.forbidden(field, message))
    elif reason == "FieldValueDuplicate":
        found.append(errors.FieldError(field, reason, message, kind))
    else:
        found.append(errors.invalid(field, kind, message))


def _message(rule: Mapping[str, Any], activation: dict[str, Any]) -> str:
    if "messageExpression" in rule:
        try:
            text = _evaluate(rule["messageExpression"], activation)
        except celpy.CELEvalError:
            text = None
        if isinstance(text, str) and text.strip():
            return str(text)
    return str(rule.get("message") or f"failed rule: {rule['rule']}")
