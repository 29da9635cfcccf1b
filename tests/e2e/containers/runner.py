"""Runs rendered Deployments and StatefulSets as podman containers, as a kubelet would.

One podman network per run, where every Service name (and its ``.ns.svc...`` forms)
resolves to the pods it selects (network aliases). Per pod: init containers one
after another to completion (a failing one is retried twice with a back-off, as a
kubelet restarts it, then the run fails with its logs), then the container, its ports
published on 127.0.0.1, then its startup probe (failureThreshold x period, then the
run fails as a kubelet would kill it) and its readiness probe (until ``ready_within``,
as ``helm install --wait`` waits). Every failure is a ``ManifestError`` naming the
manifest, so this target cannot pass a broken chart.

Everything made is labelled with the run (see ``podman``) and removed on exit; a run
killed before that is swept by the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path

import aiohttp

from tests.e2e.containers import podman as pm
from tests.e2e.containers.manifests import Container, Doc, ManifestError, Objects, Pod, Probe
from tests.e2e.containers.pods import plan_pod, replicas, workload_name, workloads


class Runner:
    def __init__(
        self,
        *,
        namespace: str,
        run: str,
        workdir: Path,
        images: Mapping[str, str],
        ready_within: float,
    ) -> None:
        self.objects = Objects((), namespace)
        self.run, self.workdir, self.images, self.ready_within = run, workdir, images, ready_within
        self.network = f"{run}-net"
        self.gateway = ""
        self._workloads: dict[str, Doc] = {}
        self._pods: dict[str, list[Pod]] = {}

    def add(self, docs: Iterable[Doc]) -> None:
        """Objects to run or reference: rendered manifests, and pre-created ones (Secrets a
        user makes before `helm install`), which must come before what references them."""
        self.objects = Objects([*self.objects.docs, *docs], self.objects.namespace)
        self._workloads = {workload_name(d): d for d in workloads(self.objects)}

    @classmethod
    @contextlib.asynccontextmanager
    async def started(
        cls, *, namespace: str, images: Mapping[str, str] = {}, ready_within: float = 120.0
    ) -> AsyncIterator[Runner]:
        """A run: its network made, everything it made removed however it ends."""
        await pm.sweep_orphans()
        run = f"vellet-e2e-{uuid.uuid4().hex[:8]}"
        workdir = Path(tempfile.mkdtemp(prefix=f"{run}-"))
        runner = cls(
            namespace=namespace, run=run, workdir=workdir, images=images, ready_within=ready_within
        )
        try:
            await pm.ok("network", "create", *pm.labels(run), runner.network)
            runner.gateway = (
                await pm.ok(
                    "network",
                    "inspect",
                    runner.network,
                    "--format",
                    "{{range .Subnets}}{{.Gateway}}{{end}}",
                )
            ).strip()
            yield runner
        finally:
            await asyncio.shield(pm.remove_run(run))
            shutil.rmtree(workdir, ignore_errors=True)

    # ------------------------------------------------------------ workloads

    def workload(self, name: str) -> Doc:
        if name not in self._workloads:
            raise ManifestError(
                f"no workload {name!r} in the manifests ({sorted(self._workloads)})"
            )
        return self._workloads[name]

    async def up(self, names: Iterable[str] | None = None) -> None:
        """Start workloads at their rendered replica counts, all at once, ready at the end."""
        chosen = list(self._workloads) if names is None else list(names)
        await asyncio.gather(*(self.scale(n, replicas(self.workload(n))) for n in chosen))

    async def scale(self, name: str, count: int) -> None:
        """``kubectl scale``: pods removed from the top, or added and waited for."""
        doc = self.workload(name)
        pods = self._pods.setdefault(name, [])
        while len(pods) > count:
            await self._remove(pods.pop())
        plans = [plan_pod(doc, i, self.objects) for i in range(len(pods), count)]
        started = await asyncio.gather(*(self._start(p) for p in plans))
        pods.extend(started)

    async def restart(self, name: str) -> None:
        """The pods killed (SIGKILL, as a node loss) and made again, as a ReplicaSet does."""
        count = len(self._pods.get(name, []))
        for pod in self._pods.get(name, []):
            await pm.podman("kill", self._cname(pod, pod.containers[0]))
        await self.scale(name, 0)
        await self.scale(name, count)

    def workload_names(self) -> list[str]:
        return list(self._workloads)

    def pods(self, name: str) -> list[Pod]:
        return list(self._pods.get(name, []))

    async def published(self, service: str, port: int) -> str:
        """``http://127.0.0.1:N`` reaching ``port`` of the first ready pod behind ``service``."""
        for pods in self._pods.values():
            for pod in pods:
                if service in pod.aliases:
                    return f"http://127.0.0.1:{await self._host_port(pod, port)}"
        raise ManifestError(f"Service/{service}: no running pod behind it")

    async def logs(self, name: str) -> str:
        out = []
        for pod in self._pods.get(name, []):
            for c in pod.containers:
                done = await pm.podman("logs", "--tail", "60", self._cname(pod, c))
                out.append(f"--- {c.source} ({pod.name})\n{done.out}{done.err}")
        return "\n".join(out)

    # ------------------------------------------------------------ one pod

    def _cname(self, pod: Pod, c: Container) -> str:
        return f"{self.run}-{pod.name}-{c.name}"

    def _image(self, image: str) -> str:
        return self.images.get(image, image)

    async def _args(self, pod: Pod, c: Container, *, main: bool) -> list[str]:
        args = [
            "--name",
            self._cname(pod, c),
            *pm.labels(self.run),
            "--label",
            f"{pm.POD}={pod.name}",
            "--network",
            self.network,
            "--hostname",
            pod.name,
            "--pull",
            "never",
        ]
        if main:
            args += [a for alias in pod.aliases for a in ("--network-alias", alias)]
            args += [a for port in pod.published for a in ("-p", f"127.0.0.1::{port}")]
        if c.user:
            args += ["--user", c.user]
        args += [a for g in c.group_add for a in ("--group-add", str(g))]
        if c.read_only_root:
            args.append("--read-only")
        if c.drop_all_caps:
            args += ["--cap-drop", "ALL"]
        if c.no_new_privileges:
            args += ["--security-opt", "no-new-privileges"]
        for m in c.mounts:
            args += await self._mount(pod, c, m)
        for name, value in c.env:
            args += ["-e", f"{name}={value}"]
        if c.entrypoint is not None:
            args += ["--entrypoint", c.entrypoint[0]]
        args.append(self._image(c.image))
        if c.entrypoint is not None:
            args += [*c.entrypoint[1:], *(c.args or ())]
        elif c.args is not None:
            args += list(c.args)
        return args

    async def _mount(self, pod: Pod, c: Container, m: object) -> list[str]:
        from tests.e2e.containers.manifests import Mount

        assert isinstance(m, Mount)
        if m.kind == "tmpfs":
            size = f",size={m.size}" if m.size else ""
            return ["--tmpfs", f"{m.path}:rw,mode=1777{size}"]
        if m.kind == "files":
            where = self.workdir / pod.name / c.name / m.path.strip("/").replace("/", "_")
            where.mkdir(parents=True, exist_ok=True)
            for rel, content, mode in m.files:
                target = where / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
                target.chmod(mode)
                if m.group is not None:
                    os.chown(target, 0, m.group)  # as a kubelet does for the pod's fsGroup
            for d in [where, *where.rglob("*")]:
                if d.is_dir():
                    d.chmod(0o755)
            return ["-v", f"{where}:{m.path}:ro"]
        volume = f"{self.run}-{m.volume}-{pod.name}"
        if (await pm.podman("volume", "exists", volume)).code != 0:
            await pm.ok("volume", "create", *pm.labels(self.run), volume)
        return ["-v", f"{volume}:{m.path}{':ro' if m.read_only else ''}"]

    async def _init(self, pod: Pod, c: Container) -> None:
        # Attached, not -d: podman 4.3 loses the output of a detached container that
        # exits at once, and that output is what the error must show.
        name = self._cname(pod, c)
        for attempt, pause in enumerate((1.0, 2.0, None), start=1):
            await pm.podman("rm", "--force", name)
            done = await pm.podman("run", *await self._args(pod, c, main=False), timeout=600)
            await pm.podman("rm", "--force", name)
            if done.code == 0:
                return
            if pause is None:
                said = "\n".join((done.out + done.err).strip().splitlines()[-30:])
                raise ManifestError(
                    f"{c.source} exited with {done.code} ({attempt} attempts):\n{said}"
                )
            await asyncio.sleep(pause)

    async def _start(self, pod: Pod) -> Pod:
        for c in pod.init:
            await self._init(pod, c)
        (main,) = pod.containers
        await pm.ok("run", "-d", *await self._args(pod, main, main=True))
        await self._until_ready(pod, main)
        return pod

    async def _remove(self, pod: Pod) -> None:
        for c in pod.containers:
            await pm.podman("rm", "--force", "--time", "10", self._cname(pod, c))

    # ------------------------------------------------------------ probes

    async def _host_port(self, pod: Pod, port: int) -> int:
        out = await pm.ok("port", self._cname(pod, pod.containers[0]), f"{port}/tcp")
        return int(out.strip().splitlines()[0].rsplit(":", 1)[1])

    async def _state(self, pod: Pod, c: Container) -> str:
        fmt = "{{.State.Status}} {{.State.ExitCode}}"
        return (await pm.podman("inspect", "--format", fmt, self._cname(pod, c))).out.strip()

    async def _try(
        self, pod: Pod, c: Container, probe: Probe, http: aiohttp.ClientSession
    ) -> str | None:
        """None when the probe passes, else what it got."""
        if probe.command is not None:
            done = await pm.podman("exec", self._cname(pod, c), *probe.command, timeout=30)
            return None if done.code == 0 else f"exit {done.code}"
        assert probe.port is not None
        url = f"http://127.0.0.1:{await self._host_port(pod, probe.port)}{probe.path}"
        try:
            async with http.get(url, allow_redirects=False) as response:
                return None if 200 <= response.status < 400 else f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as err:
            return type(err).__name__

    async def _until_ready(self, pod: Pod, c: Container) -> None:
        timeout = aiohttp.ClientTimeout(total=3)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            if c.startup is not None:
                await self._probe(
                    pod, c, c.startup, http, c.startup.failure_threshold * c.startup.period
                )
            if c.readiness is not None:
                await self._probe(pod, c, c.readiness, http, self.ready_within)

    async def _probe(
        self, pod: Pod, c: Container, probe: Probe, http: aiohttp.ClientSession, budget: float
    ) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(probe.initial_delay)
        deadline = loop.time() + budget
        last = "not tried"
        while loop.time() < deadline:
            state = await self._state(pod, c)
            if not state.startswith("running"):
                logs = await pm.podman("logs", "--tail", "30", self._cname(pod, c))
                raise ManifestError(f"{c.source} ({pod.name}) is {state}:\n{logs.out}{logs.err}")
            got = await self._try(pod, c, probe, http)
            if got is None:
                return
            last = got
            await asyncio.sleep(min(probe.period, 1.0))
        logs = await pm.podman("logs", "--tail", "20", self._cname(pod, c))
        raise ManifestError(
            f"{c.source} ({pod.name}): {probe.describe()} did not pass within {budget:.0f}s "
            f"(last: {last}):\n{logs.out}{logs.err}"
        )
