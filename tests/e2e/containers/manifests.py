"""Rendered Kubernetes manifests → what podman must run, as a kubelet would read them.

Pure: no podman here. ``plan_pod`` turns one Deployment's or StatefulSet's pod
template, plus the objects it references (the rendered ConfigMaps and Secrets and
the *pre-created* ones a user makes before ``helm install``), into containers with
their final environment, command line, user, read-only root, tmpfs and files, ports,
probes and Service aliases. Whatever a kubelet would refuse (a missing Secret or key,
a container port a probe names but nobody declares, a Service that remaps a port,
which DNS aliases cannot do) is a ``ManifestError`` naming the manifest.

Followed as Kubernetes does: ``envFrom`` first, then ``env`` in order with
``$(VAR)`` expansion of the names defined before (``$$`` escapes, names unknown or
defined later stay as written), the same
expansion in ``command``/``args`` but not in probes; ``command`` replaces the
image's entry point and drops its CMD; the container's securityContext over the pod's;
Secret and ConfigMap volumes with their ``items`` only, ``defaultMode``/``mode``, and
the group ownership ``fsGroup`` gives them.
Not honoured (a real cluster's business): resources, liveness probes, affinity,
service accounts and RBAC, NetworkPolicies.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Doc = dict[str, Any]
WORKLOADS = ("Deployment", "StatefulSet")


class ManifestError(Exception):
    """The manifests cannot run as written; the message names the manifest."""


@dataclass(frozen=True)
class Probe:
    """A readiness or startup probe as written: an HTTP GET or an exec command."""

    where: str  #: "readinessProbe" or "startupProbe", for messages
    path: str | None  #: httpGet path (None for exec)
    port: int | None  #: the container port the GET goes to
    command: tuple[str, ...] | None  #: exec probe command (not $(VAR)-expanded)
    period: float
    failure_threshold: int
    initial_delay: float

    def describe(self) -> str:
        if self.command is not None:
            return f"{self.where} exec {list(self.command)}"
        return f"{self.where} GET {self.path} on port {self.port}"


@dataclass(frozen=True)
class Mount:
    """A volume in the container: tmpfs (emptyDir), files (ConfigMap/Secret) or a named volume."""

    path: str
    kind: str  #: "tmpfs", "files" or "volume"
    read_only: bool = False
    size: str | None = None  #: tmpfs size (emptyDir sizeLimit)
    files: tuple[tuple[str, bytes, int], ...] = ()  #: (relative name, content, mode)
    volume: str | None = None  #: claim name (StatefulSet volumeClaimTemplates)
    #: The pod's fsGroup: a kubelet gives a Secret's or ConfigMap's files that group and
    #: adds group read (mode | 0440), so a non-root user reads a 0440 key through it.
    group: int | None = None


@dataclass(frozen=True)
class Container:
    source: str  #: "StatefulSet/x container y" -- every error names it
    name: str
    image: str
    entrypoint: tuple[str, ...] | None  #: k8s command (None: the image's)
    args: tuple[str, ...] | None  #: k8s args (None: the image's CMD, unless command is set)
    env: tuple[tuple[str, str], ...]
    user: str | None
    group_add: tuple[int, ...]
    read_only_root: bool
    drop_all_caps: bool
    no_new_privileges: bool
    mounts: tuple[Mount, ...]
    ports: tuple[int, ...]
    readiness: Probe | None
    startup: Probe | None


@dataclass(frozen=True)
class Pod:
    workload: str  #: "Deployment/name"
    name: str  #: the pod's name (metadata.name in fieldRef)
    labels: Mapping[str, str]
    init: tuple[Container, ...]
    containers: tuple[Container, ...]
    aliases: tuple[str, ...]  #: Service names resolving to this pod
    published: tuple[int, ...] = field(default=())  #: container ports to publish on loopback


class Objects:
    """Every object the pods may reference: rendered ones and pre-created ones."""

    def __init__(self, docs: Iterable[Doc], namespace: str) -> None:
        self.namespace = namespace
        self.docs = [d for d in docs if d]
        self._by = {(d["kind"], d["metadata"]["name"]): d for d in self.docs}

    def get(self, kind: str, name: str) -> Doc | None:
        return self._by.get((kind, name))

    def of_kind(self, kind: str) -> list[Doc]:
        return [d for d in self.docs if d["kind"] == kind]

    def data(self, kind: str, name: str, source: str, optional: bool = False) -> dict[str, bytes]:
        """A ConfigMap's or Secret's keys, decoded; a missing one is refused as a kubelet does."""
        doc = self.get(kind, name)
        if doc is None:
            if optional:
                return {}
            raise ManifestError(f"{source}: {kind} {name!r} does not exist")
        out = {k: str(v).encode() for k, v in (doc.get("stringData") or {}).items()}
        raw = doc.get("data") or {}
        for key, value in raw.items():
            out.setdefault(
                key, base64.b64decode(value) if kind == "Secret" else str(value).encode()
            )
        return out

    def key(self, kind: str, name: str, key: str, source: str, optional: bool) -> str | None:
        values = self.data(kind, name, source, optional)
        if key not in values:
            if optional:
                return None
            raise ManifestError(f"{source}: {kind} {name!r} has no key {key!r}")
        return values[key].decode()


_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: known names replaced, ``$$`` → ``$``, others kept."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _VAR.sub(one, text)


def _field(path: str, pod: str, namespace: str, source: str) -> str:
    known = {"metadata.name": pod, "metadata.namespace": namespace}
    if path not in known:
        raise ManifestError(f"{source}: fieldRef {path!r} is not given by this runner")
    return known[path]


def resolve_env(spec: Doc, objects: Objects, pod: str, source: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for ref in spec.get("envFrom") or []:
        prefix = ref.get("prefix", "")
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if key in ref:
                target = ref[key]
                values = objects.data(kind, target["name"], source, target.get("optional", False))
                env.update(
                    {
                        prefix + k: v.decode()
                        for k, v in values.items()
                        if _ENV_NAME.match(prefix + k)
                    }
                )
    for item in spec.get("env") or []:
        name = item["name"]
        if "value" in item:
            env[name] = expand(str(item["value"]), env)
            continue
        source_of = item.get("valueFrom")
        if not source_of:
            env[name] = ""
            continue
        where = f"{source}: env {name}"
        value: str | None
        if "secretKeyRef" in source_of:
            ref = source_of["secretKeyRef"]
            value = objects.key(
                "Secret", ref["name"], ref["key"], where, ref.get("optional", False)
            )
        elif "configMapKeyRef" in source_of:
            ref = source_of["configMapKeyRef"]
            value = objects.key(
                "ConfigMap", ref["name"], ref["key"], where, ref.get("optional", False)
            )
        elif "fieldRef" in source_of:
            value = _field(source_of["fieldRef"]["fieldPath"], pod, objects.namespace, where)
        else:
            raise ManifestError(
                f"{where}: valueFrom {sorted(source_of)} is not given by this runner"
            )
        if value is not None:
            env[name] = value
    return env
