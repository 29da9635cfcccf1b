"""A Deployment's or StatefulSet's pod template → the ``Pod`` podman runs (pure).

See ``manifests`` for what is honoured and what is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.e2e.containers.manifests import (
    WORKLOADS,
    Container,
    Doc,
    ManifestError,
    Mount,
    Objects,
    Pod,
    Probe,
    expand,
    resolve_env,
)


def workload_name(doc: Doc) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def workloads(objects: Objects) -> list[Doc]:
    return [d for d in objects.docs if d["kind"] in WORKLOADS]


def replicas(doc: Doc) -> int:
    return int(doc["spec"].get("replicas", 1))


def pod_name(doc: Doc, index: int) -> str:
    # StatefulSets name pods <name>-<ordinal>; a Deployment's random suffix is an index here.
    return f"{doc['metadata']['name']}-{index}"


def _ports(spec: Doc) -> dict[str, int]:
    return {p["name"]: int(p["containerPort"]) for p in spec.get("ports") or [] if "name" in p}


def _port(value: Any, named: Mapping[str, int], where: str) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if value not in named:
        raise ManifestError(f"{where}: port {value!r} is not a declared container port")
    return named[value]


def _probe(spec: Doc, key: str, source: str) -> Probe | None:
    probe = spec.get(key)
    if not probe:
        return None
    where = f"{source} {key}"
    common = {
        "where": key,
        "period": float(probe.get("periodSeconds", 10)),
        "failure_threshold": int(probe.get("failureThreshold", 3)),
        "initial_delay": float(probe.get("initialDelaySeconds", 0)),
    }
    if "httpGet" in probe:
        get = probe["httpGet"]
        if get.get("scheme", "HTTP") != "HTTP":
            raise ManifestError(f"{where}: only HTTP probes are run here")
        port = _port(get["port"], _ports(spec), where)
        return Probe(path=get.get("path", "/"), port=port, command=None, **common)
    if "exec" in probe:
        return Probe(path=None, port=None, command=tuple(probe["exec"]["command"]), **common)
    raise ManifestError(f"{where}: only httpGet and exec probes are run here")


def _size(limit: str | None) -> str | None:
    if not limit:
        return None
    units = {"Ki": "k", "Mi": "m", "Gi": "g"}
    for suffix, short in units.items():
        if limit.endswith(suffix):
            return limit[: -len(suffix)] + short
    return limit


def _files(volume: Doc, objects: Objects, source: str) -> tuple[tuple[str, bytes, int], ...]:
    for kind, key, name_key in (
        ("ConfigMap", "configMap", "name"),
        ("Secret", "secret", "secretName"),
    ):
        if key in volume:
            spec = volume[key]
            data = objects.data(kind, spec[name_key], source, spec.get("optional", False))
            mode = int(spec.get("defaultMode", 0o644))
            items = spec.get("items")
            if not items:
                return tuple((k, v, mode) for k, v in sorted(data.items()))
            out = []
            for item in items:
                if item["key"] not in data:
                    raise ManifestError(
                        f"{source}: {kind} {spec[name_key]!r} has no key {item['key']!r}"
                    )
                out.append((item["path"], data[item["key"]], int(item.get("mode", mode))))
            return tuple(out)
    raise AssertionError(volume)


def _mounts(
    spec: Doc, pod_spec: Doc, claims: set[str], objects: Objects, source: str
) -> tuple[Mount, ...]:
    volumes = {v["name"]: v for v in pod_spec.get("volumes") or []}
    mounts = []
    for mount in spec.get("volumeMounts") or []:
        name, path, ro = mount["name"], mount["mountPath"], bool(mount.get("readOnly", False))
        where = f"{source} volumeMount {name}"
        if mount.get("subPath"):
            raise ManifestError(f"{where}: subPath is not run here")
        if name in claims:
            mounts.append(Mount(path=path, kind="volume", read_only=ro, volume=name))
            continue
        if name not in volumes:
            raise ManifestError(f"{where}: no volume {name!r} in the pod")
        volume = volumes[name]
        if "emptyDir" in volume:
            size = _size((volume["emptyDir"] or {}).get("sizeLimit"))
            mounts.append(Mount(path=path, kind="tmpfs", read_only=ro, size=size))
        elif "configMap" in volume or "secret" in volume:
            group = (pod_spec.get("securityContext") or {}).get("fsGroup")
            files = _files(volume, objects, where)
            if group is not None:
                files = tuple((rel, content, mode | 0o440) for rel, content, mode in files)
            mounts.append(
                Mount(
                    path=path,
                    kind="files",
                    read_only=True,
                    files=files,
                    group=None if group is None else int(group),
                )
            )
        else:
            raise ManifestError(f"{where}: volume type {sorted(volume)} is not run here")
    return tuple(mounts)


def _security(pod_spec: Doc, spec: Doc) -> dict[str, Any]:
    merged = {**(pod_spec.get("securityContext") or {}), **(spec.get("securityContext") or {})}
    user = merged.get("runAsUser")
    group = merged.get("runAsGroup")
    fs_group = (pod_spec.get("securityContext") or {}).get("fsGroup")
    drop = (merged.get("capabilities") or {}).get("drop") or []
    return {
        "user": None if user is None else f"{user}:{group if group is not None else user}",
        "group_add": () if fs_group is None else (int(fs_group),),
        "read_only_root": bool(merged.get("readOnlyRootFilesystem", False)),
        "drop_all_caps": "ALL" in drop,
        "no_new_privileges": merged.get("allowPrivilegeEscalation") is False,
    }


def _container(
    spec: Doc, pod_spec: Doc, claims: set[str], objects: Objects, pod: str, source: str
) -> Container:
    env = resolve_env(spec, objects, pod, source)
    command = spec.get("command")
    args = spec.get("args")
    return Container(
        source=source,
        name=spec["name"],
        image=spec["image"],
        entrypoint=None if command is None else tuple(expand(str(c), env) for c in command),
        args=None if args is None else tuple(expand(str(a), env) for a in args),
        env=tuple(env.items()),
        mounts=_mounts(spec, pod_spec, claims, objects, source),
        ports=tuple(int(p["containerPort"]) for p in spec.get("ports") or []),
        readiness=_probe(spec, "readinessProbe", source),
        startup=_probe(spec, "startupProbe", source),
        **_security(pod_spec, spec),
    )


def _aliases(
    labels: Mapping[str, str], ports: dict[str, int], objects: Objects, workload: str
) -> tuple[str, ...]:
    names = []
    for service in objects.of_kind("Service"):
        selector = service["spec"].get("selector") or {}
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            continue
        name = service["metadata"]["name"]
        for port in service["spec"].get("ports") or []:
            target = port.get("targetPort", port["port"])
            number = _port(target, ports, f"Service/{name} (selecting {workload})")
            if number != int(port["port"]):
                raise ManifestError(
                    f"Service/{name}: port {port['port']} goes to container port {number}; "
                    "this runner gives Services DNS aliases only and cannot remap ports"
                )
        ns = objects.namespace
        names += [name, f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.cluster.local"]
    return tuple(names)


def plan_pod(doc: Doc, index: int, objects: Objects) -> Pod:
    workload = workload_name(doc)
    template = doc["spec"]["template"]
    pod_spec = template["spec"]
    labels = template.get("metadata", {}).get("labels") or {}
    name = pod_name(doc, index)
    claims = {c["metadata"]["name"] for c in doc["spec"].get("volumeClaimTemplates") or []}
    if len(pod_spec["containers"]) != 1:
        raise ManifestError(f"{workload}: pods with several containers are not run here")
    init = tuple(
        _container(c, pod_spec, claims, objects, name, f"{workload} init container {c['name']}")
        for c in pod_spec.get("initContainers") or []
    )
    (main,) = (
        _container(c, pod_spec, claims, objects, name, f"{workload} container {c['name']}")
        for c in pod_spec["containers"]
    )
    ports = {**_ports(pod_spec["containers"][0])}
    for probe in (main.readiness, main.startup):
        if probe is not None and probe.port is not None and probe.port not in main.ports:
            raise ManifestError(
                f"{main.source} {probe.where}: port {probe.port} is not a declared container port"
            )
    return Pod(
        workload=workload,
        name=name,
        labels=labels,
        init=init,
        containers=(main,),
        aliases=_aliases(labels, ports, objects, workload),
        published=main.ports,
    )
