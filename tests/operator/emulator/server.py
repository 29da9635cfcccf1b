"""kmock's Kubernetes emulator, extended into a small but honest API server.

kmock stores objects and streams watch events, but stores whatever it is sent
and stamps nothing on it. Kopf relies on more: ``resourceVersion`` (it waits
for its own patches to come back through the watch stream, and resumes a
watch from the last version it saw), ``uid``, ``generation``,
``creationTimestamp``, the status subresource, JSON patches that ``test`` the
resourceVersion, and watches that end when ``timeoutSeconds`` says so.
``ApiServer`` adds those (requests in ``engine.py``, write rules in
``writes.py``, watches in ``watches.py``) and validates custom resources
against their CRD file -- schema, pruning, CEL -- answering the API server's
422 ``Status`` on refusal. This module is what tests use: starting it,
declaring resources, reading state and waiting for it.

Not emulated, and refused rather than answered wrongly: label selectors,
field selectors other than ``metadata.name``/``metadata.namespace``,
server-side apply, strategic merge patches (custom resources don't support
them either), pagination, bookmarks, defaulting, admission webhooks, RBAC.

Every request is recorded: ``list(api)`` is kmock's request log.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TypeVar

import attrs
import kmock

from tests.operator.emulator.crd import Crd
from tests.operator.emulator.engine import EVENTS, NAMESPACES, VERBS, Body, Engine

__all__ = ["EVENTS", "NAMESPACES", "ApiServer"]

T = TypeVar("T")


@attrs.define(kw_only=True)
class ApiServer(Engine):
    """The emulator. ``async with ApiServer.running([crd]) as api`` serves it on a port."""

    @classmethod
    @contextlib.asynccontextmanager
    async def running(
        cls,
        crds: Iterable[Crd] = (),
        namespaces: Iterable[str] = ("default",),
        host: str = "127.0.0.1",
    ) -> AsyncIterator[ApiServer]:
        """Serve on a random port of ``host`` (loopback unless a container must reach it,
        as the e2e container target's operator does); end open watches before stopping."""
        async with cls() as api, kmock.Server(api, host=host):
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
