"""How the API server turns a write request into the next stored version.

Pure functions (no storage, no I/O), shared by ``server.ApiServer``. Each
raises ``ApiError`` with the status a real API server would answer. The rules
followed are the API server's own for custom resources:

- create: ``generateName`` gives a random suffix; a ``resourceVersion`` in the
  body is refused; ``status`` is dropped when the status subresource exists;
  ``generation`` starts at 1.
- update (patch or replace) of the main resource keeps the old ``status``;
  an update of ``/status`` changes nothing but ``status``.
- the system fields (uid, creationTimestamp, generation, deletionTimestamp)
  cannot be written by clients; a ``resourceVersion`` in the body is a
  precondition (409 Conflict when stale).
- ``generation`` grows only when something outside metadata and status changed.
- an update that changes nothing is not an update: same resourceVersion, no
  watch event.
- while ``deletionTimestamp`` is set, finalizers may only be removed.
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

from tests.operator.emulator import patches
from tests.operator.emulator.crd import Crd
from tests.operator.emulator.errors import ApiError, FieldError, api_error

SYSTEM_FIELDS = ("uid", "creationTimestamp", "generation", "deletionTimestamp", "resourceVersion")

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def new_object(
    data: Any,
    *,
    api_version: str,
    kind: str,
    namespace: str | None,
    has_status: bool,
) -> dict[str, Any]:
    """The body to store for a create request (before uid/resourceVersion stamps)."""
    if not isinstance(data, dict):
        raise api_error(400, "BadRequest", "the request body is not a JSON object")
    body = copy.deepcopy(data)
    body.setdefault("apiVersion", api_version)
    body.setdefault("kind", kind)
    meta = body.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise api_error(400, "BadRequest", "metadata must be an object")
    if meta.get("resourceVersion"):
        raise api_error(
            400, "BadRequest", "resourceVersion should not be set on objects to be created"
        )
    if namespace is not None:
        if meta.get("namespace") not in (None, "", namespace):
            raise api_error(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent "
                "on the request",
            )
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
    for field in SYSTEM_FIELDS:
        meta.pop(field, None)
    meta["generation"] = 1
    if has_status:
        body.pop("status", None)
    return body


def patched(old: dict[str, Any], content_type: str, data: Any) -> dict[str, Any]:
    """Apply a PATCH request's body to ``old``."""
    content_type = content_type.split(";", maxsplit=1)[0].strip().lower()
    try:
        if content_type == MERGE_PATCH:
            if not isinstance(data, dict):
                raise api_error(400, "BadRequest", "a merge patch must be a JSON object")
            result = patches.merge_patch(old, data)
        elif content_type == JSON_PATCH:
            result = patches.json_patch(old, data)
        else:
            # Custom resources do not support strategic merge patches; server-side
            # apply is real but not emulated: refuse both instead of faking them.
            raise api_error(
                415, "UnsupportedMediaType", f"the emulator does not support {content_type!r}"
            )
    except patches.MalformedPatch as err:
        raise api_error(400, "BadRequest", str(err)) from None
    except patches.PatchError as err:
        raise api_error(422, "Invalid", str(err)) from None
    if not isinstance(result, dict):
        raise api_error(422, "Invalid", "the patch did not produce an object")
    return result


def next_version(
    old: dict[str, Any],
    new: dict[str, Any],
    *,
    subresource: str | None,
    has_status: bool,
    name: str,
    kind: str,
) -> dict[str, Any]:
    """Merge a client's ``new`` body with what it may not change; check preconditions."""
    wanted_version = (new.get("metadata") or {}).get("resourceVersion")
    if wanted_version not in (None, "", old["metadata"]["resourceVersion"]):
        raise api_error(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {kind} "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again",
        )
    if subresource == "status":
        result = copy.deepcopy(old)
        if "status" in new:
            result["status"] = copy.deepcopy(new["status"])
        else:
            result.pop("status", None)
        return result
    result = copy.deepcopy(new)
    meta = result.setdefault("metadata", {})
    for field in ("name", "namespace", *SYSTEM_FIELDS):
        if field in old["metadata"]:
            meta[field] = old["metadata"][field]
        else:
            meta.pop(field, None)
    if has_status:
        if "status" in old:
            result["status"] = copy.deepcopy(old["status"])
        else:
            result.pop("status", None)
    if old["metadata"].get("deletionTimestamp"):
        added = set(meta.get("finalizers", [])) - set(old["metadata"].get("finalizers", []))
        if added:
            raise api_error(
                422, "Invalid", "no new finalizers can be added if the object is being deleted"
            )
    if "generation" in meta and _essence(result) != _essence(old):
        meta["generation"] = int(meta["generation"]) + 1
    return result


def _essence(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("metadata", "status")}


def admitted(
    crd: Crd | None,
    body: dict[str, Any],
    old: dict[str, Any] | None,
    *,
    strict: bool,
) -> dict[str, Any]:
    """Prune and validate a custom resource (422 Invalid with the API server's causes)."""
    name = str(body["metadata"].get("name") or "")
    if crd is None:  # built-in kinds: only the name is checked
        if not name:
            raise invalid(None, name, [required_name()])
        return body
    admission = crd.admit(body, old)
    if strict and admission.unknown_fields:
        fields = ", ".join(f'unknown field "{path}"' for path in admission.unknown_fields)
        raise api_error(400, "BadRequest", f"strict decoding error: {fields}")
    if admission.errors:
        raise invalid(crd, name, admission.errors)
    return admission.stored


def required_name() -> FieldError:
    return FieldError("metadata.name", "FieldValueRequired", "name or generateName is required")


def invalid(crd: Crd | None, name: str, found: list[FieldError]) -> ApiError:
    """The API server's 422: one message listing every cause, and the causes one by one."""
    kind = f"{crd.kind}.{crd.group}" if crd is not None else "object"
    listed = ", ".join(str(error) for error in found)
    message = f'{kind} "{name}" is invalid: ' + (listed if len(found) == 1 else f"[{listed}]")
    return api_error(
        422,
        "Invalid",
        message,
        name=name,
        group=crd.group if crd is not None else "",
        kind=crd.kind if crd is not None else "",
        causes=[error.cause() for error in found],
    )
