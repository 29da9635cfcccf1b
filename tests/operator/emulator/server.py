"""kmock's Kubernetes emulator, extended into a small but honest API server.

kmock stores objects and streams watch events, but stores whatever it is sent
and stamps nothing on it. Kopf relies on more: ``resourceVersion`` (it waits
for its own patches to come back through the watch stream, and resumes a
watch from the last version it saw), ``uid``, ``generation``,
``creationTimestamp``, the status subresource, JSON patches that ``test`` the
resourceVersion, and watches that end when ``timeoutSeconds`` says so.
``ApiServer`` adds those (write rules in ``writes.py``, watches in
``watches.py``) and validates custom resources against their CRD file --
schema, pruning, CEL -- answering the API server's 422 ``Status`` on refusal.

Not emulated, and refused rather than answered wrongly: label selectors,
field selectors other than ``metadata.name``/``metadata.namespace``,
server-side apply, strategic merge patches (custom resources don't support
them either), pagination, bookmarks, defaulting, admission webhooks, RBAC.

State changes happen before kmock's reaction matching, as in kmock itself:
a test may intercept a request (``api['patch', ...] << 500``) and the stored
history stays consistent. Every request is recorded (``list(api)``).
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeVar

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
T = TypeVar("T")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.define(kw_only=True)
class ApiServer(kmock.KubernetesEmulator):
    """The emulator. ``async with ApiServer.running([crd]) as api`` serves it on a port."""

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

    @classmethod
    @contextlib.asynccontextmanager
    async def running(
        cls, crds: Iterable[Crd] = (), namespaces: Iterable[str] = ("default",)
    ) -> AsyncIterator[ApiServer]:
        """Serve on a random loopback port; end open watches before stopping."""
        async with cls() as api, kmock.Server(api):
            for crd in crds:
                api.add_crd(crd)
            for name in namespaces:
                api.add_namespace(name)
            try:
                yield api
            finally:
                api.close_watches()

    def add_crd(self, crd: Crd) -> kmock.resource:
        """Serve ``crd``'s storage version, validating its objects (no CRD object is made)."""
        resource = kmock.resource(crd.group, crd.version()["name"], crd.plural)
        self.resources[resource] = kmock.ResourceInfo(
            kind=crd.kind,
            singular=crd.singular,
            namespaced=crd.namespaced,
            shortnames=set(crd.short_names),
            categories=set(crd.categories),
            verbs=VERBS,
            subresources={"status"} if crd.has_status() else set(),
        )
        self._crds[resource] = crd
        return resource

    def add_namespace(self, name: str) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        self._store(NAMESPACES, (NAMESPACES, None, name), self._stamp(body), "ADDED")

    def close_watches(self) -> None:
        self._changes.close()

    def compact(self) -> None:
        """Forget past watch events, as etcd compaction does: older versions answer 410."""
        self._changes.compact()

    # ------------------------------------------------------ for the tests

    def kubeconfig(self, namespace: str = "default") -> Body:
        """A kubeconfig pointing at this server: for an operator run as a subprocess
        (kopf, without a client library installed, reads it with its own minimal login)."""
        server = str(self.url).rstrip("/")
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "emulator",
            "clusters": [{"name": "emulator", "cluster": {"server": server}}],
            "users": [{"name": "emulator", "user": {"token": "emulator-does-not-check"}}],
            "contexts": [
                {
                    "name": "emulator",
                    "context": {"cluster": "emulator", "user": "emulator", "namespace": namespace},
                }
            ],
        }

    @property
    def revision(self) -> int:
        """The latest resourceVersion handed out."""
        return self._changes.revision

    def read(self, resource: kmock.resource, namespace: str | None, name: str) -> Body:
        """A copy of the stored object; KeyError when there is none."""
        obj = self._objects[resource, namespace, name]
        if obj.deleted:
            raise KeyError(name)
        return copy.deepcopy(obj.raw)

    def read_all(self, resource: kmock.resource, namespace: str | None = None) -> list[Body]:
        return [
            copy.deepcopy(obj.raw)
            for (res, ns, _), obj in self._objects.items()
            if res == resource and not obj.deleted and namespace in (None, ns)
        ]

    async def until(self, check: Callable[[], T | None], timeout: float = 10.0) -> T:
        """Re-run ``check`` after every change or request until it returns something."""
        return await self._changes.until(check, timeout)

    async def wait_for(
        self,
        resource: kmock.resource,
        namespace: str | None,
        name: str,
        predicate: Callable[[Body], bool],
        timeout: float = 10.0,
    ) -> Body:
        """Wait until the object exists and satisfies ``predicate``; return it."""

        def check() -> Body | None:
            with contextlib.suppress(KeyError):
                obj = self.read(resource, namespace, name)
                if predicate(obj):
                    return obj
            return None

        return await self.until(check, timeout)

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

    async def _serve_update(self, request: rendering.Request) -> Body:
        return self._outcomes[request.id]

    async def _serve_delete(self, request: rendering.Request) -> Body:
        return self._outcomes[request.id]

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
        return found

    async def _serve_list(self, request: rendering.Request) -> Any:
        assert request.resource is not None
        try:
            info = self._info(request.resource)
            selected = self._selected(request)
        except ApiError as err:
            return refusal(err)
        group_version = f"{request.resource.group}/{request.resource.version}"
        return {
            "apiVersion": group_version.lstrip("/"),
            "kind": f"{info.kind}List",
            "metadata": {"resourceVersion": str(self._changes.revision)},
            "items": [obj for obj in self.read_all(request.resource) if selected(obj)],
        }

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
