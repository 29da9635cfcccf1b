"""How the emulator serves requests: kmock's emulator with real API-server rules.

kmock stores whatever it is sent and stamps nothing on it. ``Engine``
replaces its write path: objects are stamped (uid, resourceVersion,
generation, creationTimestamp), changed by the API server's rules
(``writes.py``), validated against their CRD, and every change is numbered in
one log that watches replay and follow (``watches.py``). Reads go through
kmock's DSL as before, so tests can still intercept any request and every
request is recorded.

State changes happen before kmock's reaction matching, as in kmock itself: a
test may intercept a request (``api['patch', ...] << 500``) and the stored
history stays consistent.
"""

from __future__ import annotations

import copy
import datetime
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import kmock
from kmock._internal import enums, rendering

from tests.operator.emulator import kmock_fixes, writes
from tests.operator.emulator.crd import Crd
from tests.operator.emulator.errors import ApiError, api_error, not_found, qualified, refusal
from tests.operator.emulator.watches import Changes

kmock_fixes.apply()

NAMESPACES = kmock.resource("", "v1", "namespaces")
EVENTS = kmock.resource("", "v1", "events")
VERBS = {"create", "delete", "get", "list", "patch", "update", "watch"}

Body = dict[str, Any]
Key = tuple[kmock.resource, str | None, str]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.define(kw_only=True)
class Engine(kmock.KubernetesEmulator):
    """Request handling; ``server.ApiServer`` adds the set-up and the tests' helpers."""

    _crds: dict[kmock.resource, Crd] = attrs.field(factory=dict, init=False)
    _changes: Changes = attrs.field(factory=Changes, init=False)
    _outcomes: dict[int, Body] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.fallback[enums.method.PUT] << self._serve_update
        self.resources[NAMESPACES] = kmock.ResourceInfo(
            kind="Namespace", singular="namespace", namespaced=False, shortnames={"ns"}, verbs=VERBS
        )
        self.resources[EVENTS] = kmock.ResourceInfo(
            kind="Event", singular="event", namespaced=True, shortnames={"ev"}, verbs=VERBS
        )

    # ------------------------------------------------------------ storage

    def _stamp(self, body: Body) -> Body:
        meta = body.setdefault("metadata", {})
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        meta["resourceVersion"] = self._changes.next_revision()
        return body

    def _store(self, resource: kmock.resource, key: Key, body: Body | None, kind: str) -> Body:
        """Record a version (``None``: the object is gone) and publish its watch event."""
        if body is None:
            shown = copy.deepcopy(self._objects[key].raw)
            shown["metadata"]["resourceVersion"] = self._changes.next_revision()
            self._objects[key].delete()
        else:
            shown = copy.deepcopy(body)
            if key in self._objects:
                self._objects[key].history.append(copy.deepcopy(body))
            else:
                self._objects[key] = copy.deepcopy(body)
        self._changes.record(resource, kind, shown)
        return shown

    def _current(self, key: Key) -> Body | None:
        if key not in self._objects or self._objects[key].deleted:
            return None
        return copy.deepcopy(self._objects[key].raw)

    def _info(self, resource: kmock.resource) -> kmock.ResourceInfo:
        if resource not in self.resources:
            raise api_error(404, "NotFound", "the server could not find the requested resource")
        return self.resources[resource]

    # ------------------------------------------------------------- writes

    async def _handle(self, request: rendering.Request) -> Any:
        self._changes.wake()  # until() may be waiting for a request, not only for a change
        if request.resource is not None and request.method != enums.method.GET:
            try:
                async with self._lock:
                    self._outcomes[request.id] = self._write(request)
            except ApiError as err:
                return await refusal(err)(request)
        try:
            # Skip KubernetesEmulator._handle: it would store the raw request body
            # a second time, without the stamps and checks of _write().
            return await super(kmock.KubernetesEmulator, self)._handle(request)
        finally:
            self._outcomes.pop(request.id, None)

    def _write(self, request: rendering.Request) -> Body:
        assert request.resource is not None
        resource = request.resource
        info = self._info(resource)
        namespace = request.namespace if info.namespaced else None
        if info.namespaced and namespace is None:
            raise api_error(405, "MethodNotAllowed", "namespaced resources need a namespace")
        if namespace is not None and self._current((NAMESPACES, None, namespace)) is None:
            raise not_found(NAMESPACES, namespace)
        if request.method == enums.method.POST and request.name is None:
            return self._create(resource, info, namespace, request)
        if request.name is None or request.subresource not in (None, "status"):
            raise api_error(405, "MethodNotAllowed", f"{request.method} is not supported here")
        key = (resource, namespace, request.name)
        old = self._current(key)
        if old is None:
            raise not_found(resource, request.name)
        if request.method == enums.method.DELETE:
            return self._delete(resource, key, old)
        if request.method == enums.method.PATCH:
            new = writes.patched(old, _header(request, "Content-Type"), request.data)
        elif request.method == enums.method.PUT:
            new = request.data if isinstance(request.data, dict) else {}
        else:
            raise api_error(405, "MethodNotAllowed", f"{request.method} is not supported here")
        return self._update(resource, key, old, new, request)

    def _create(
        self,
        resource: kmock.resource,
        info: kmock.ResourceInfo,
        namespace: str | None,
        request: rendering.Request,
    ) -> Body:
        crd = self._crds.get(resource)
        body = writes.new_object(
            request.data,
            api_version=f"{resource.group}/{resource.version}" if resource.group else "v1",
            kind=str(info.kind),
            namespace=namespace,
            has_status="status" in info.subresources,
        )
        if crd is None:
            body["metadata"].pop("generation", None)  # the built-in kinds here have none
        body = writes.admitted(crd, body, None, strict=_strict(request))
        name = body["metadata"]["name"]
        key = (resource, namespace, name)
        if self._current(key) is not None:
            message = f'{qualified(resource)} "{name}" already exists'
            raise api_error(409, "AlreadyExists", message, name=name)
        return self._store(resource, key, self._stamp(body), "ADDED")

    def _update(
        self, resource: kmock.resource, key: Key, old: Body, new: Body, request: rendering.Request
    ) -> Body:
        info = self.resources[resource]
        if request.subresource == "status" and "status" not in info.subresources:
            raise not_found(resource, key[2])
        body = writes.next_version(
            old,
            new,
            subresource=request.subresource,
            has_status="status" in info.subresources,
            name=key[2],
            kind=qualified(resource),
        )
        if body == old:
            return old  # a no-op is not an update: no new resourceVersion, no event
        body = writes.admitted(self._crds.get(resource), body, old, strict=_strict(request))
        meta = body["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._objects[key].history.append(copy.deepcopy(body))
            return self._store(resource, key, None, "DELETED")
        meta["resourceVersion"] = self._changes.next_revision()
        return self._store(resource, key, body, "MODIFIED")

    def _delete(self, resource: kmock.resource, key: Key, old: Body) -> Body:
        meta = old["metadata"]
        if not meta.get("finalizers"):
            return self._store(resource, key, None, "DELETED")
        if meta.get("deletionTimestamp"):
            return old
        meta["deletionTimestamp"] = _now()
        meta["deletionGracePeriodSeconds"] = 0
        meta["resourceVersion"] = self._changes.next_revision()
        return self._store(resource, key, old, "MODIFIED")

    async def _serve_create(self, request: rendering.Request) -> rendering.Response:
        return rendering.Response(status=201, payload=self._outcomes[request.id])

    # Every answer carries its own status: kmock 0.8 keeps the status of a Response a
    # reaction returned on the reaction itself, so after one 404 (a refusal) a plain
    # body from the same reaction went out as 404 too -- kubectl's `get NAME` after
    # `apply` (which reads first, finds nothing, creates) failed with its object.

    async def _serve_update(self, request: rendering.Request) -> rendering.Response:
        return rendering.Response(status=200, payload=self._outcomes[request.id])

    async def _serve_delete(self, request: rendering.Request) -> rendering.Response:
        return rendering.Response(status=200, payload=self._outcomes[request.id])

    # -------------------------------------------------------------- reads

    def _selected(self, request: rendering.Request) -> Callable[[Body], bool]:
        if request.params.get("labelSelector"):
            raise api_error(400, "BadRequest", "the emulator does not support label selectors")
        wanted: dict[str, str] = {}
        for term in filter(None, request.params.get("fieldSelector", "").split(",")):
            field, _, value = term.partition("=")
            if field not in ("metadata.name", "metadata.namespace") or value.startswith("="):
                raise api_error(400, "BadRequest", f"unsupported field selector {term!r}")
            wanted[field.split(".")[1]] = value
        if request.name:
            wanted["name"] = request.name
        if request.namespace is not None:
            wanted["namespace"] = request.namespace

        def selected(obj: Body) -> bool:
            meta = obj.get("metadata", {})
            return all(meta.get(k) == v for k, v in wanted.items())

        return selected

    async def _serve_fetch(self, request: rendering.Request) -> Any:
        assert request.resource is not None
        assert request.name is not None
        try:
            info = self._info(request.resource)
        except ApiError as err:
            return refusal(err)
        namespace = request.namespace if info.namespaced else None
        found = self._current((request.resource, namespace, request.name))
        if found is None:
            return refusal(not_found(request.resource, request.name))
        return rendering.Response(status=200, payload=found)

    async def _serve_list(self, request: rendering.Request) -> Any:
        assert request.resource is not None
        try:
            info = self._info(request.resource)
            selected = self._selected(request)
        except ApiError as err:
            return refusal(err)
        group_version = f"{request.resource.group}/{request.resource.version}"
        return rendering.Response(status=200, payload={
            "apiVersion": group_version.lstrip("/"),
            "kind": f"{info.kind}List",
            "metadata": {"resourceVersion": str(self._changes.revision)},
            "items": [obj for obj in self.read_all(request.resource) if selected(obj)],
        })  # fmt: skip

    async def _serve_watch(self, request: rendering.Request) -> AsyncIterator[Any]:
        assert request.resource is not None
        resource = request.resource
        self._info(resource)
        selected = self._selected(request)
        timeout = request.params.get("timeoutSeconds")
        yield b""  # send the headers at once, as the API server does
        async for event in self._changes.follow(
            resource,
            request.params.get("resourceVersion", ""),
            lambda: self.read_all(resource),
            selected,
            float(timeout) if timeout else None,
        ):
            yield event


def _header(request: rendering.Request, name: str) -> str:
    for key, value in request.headers.items():
        if key.lower() == name.lower():
            return str(value)
    return ""


def _strict(request: rendering.Request) -> bool:
    return request.params.get("fieldValidation") == "Strict"
