"""Kubernetes conditions on a Transfer's status: one per type, honest transition times.

Pure. ``lastTransitionTime`` changes only when a condition's ``status``
does, as the API conventions ask, so ``kubectl describe`` shows when a
Transfer really became ready, not when it was last looked at.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any


def rfc3339(now: datetime.datetime) -> str:
    return now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def with_condition(
    conditions: Sequence[Mapping[str, Any]],
    *,
    type_: str,
    status: bool,
    reason: str,
    message: str,
    now: datetime.datetime,
    generation: int,
) -> list[dict[str, Any]]:
    """``conditions`` with one condition set; its transition time kept if status is unchanged."""
    text = "True" if status else "False"
    result: list[dict[str, Any]] = []
    replaced = False
    for condition in conditions:
        if condition.get("type") != type_:
            result.append(dict(condition))
            continue
        replaced = True
        since = condition.get("lastTransitionTime") if condition.get("status") == text else None
        result.append(_condition(type_, text, reason, message, since or rfc3339(now), generation))
    if not replaced:
        result.append(_condition(type_, text, reason, message, rfc3339(now), generation))
    return result


def _condition(
    type_: str, status: str, reason_: str, message: str, since: str, generation: int
) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason_,
        "message": message[:1024],
        "lastTransitionTime": since,
        "observedGeneration": generation,
    }


def condition(status: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for item in status.get("conditions", []):
        if item.get("type") == type_:
            return dict(item)
    return None
