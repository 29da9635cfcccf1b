"""Faults between processes and inside them: partitions, refusals, slow answers, pauses.

Why a proxy and not network namespaces + iptables DROP: the drill must run
unprivileged in CI and as one command on a laptop; a namespace needs root
and a veth pair per link. From the client's side a :class:`GateProxy` that is
*cut* is a dropped link, not a refused one: the TCP handshake with the proxy
succeeds (as it would have before the partition), then nothing comes back,
bytes sent are never read (they sit in kernel buffers, as in a router that
drops), and new connections are accepted and left silent. So the client
learns of the partition only from its own timeout, exactly as with DROP.
When the link heals, held connections resume where they stopped, as TCP
does after a partition shorter than its retransmission give-up.

*Down* (:meth:`GateProxy.refuse`) is the other failure: every connection is
closed at once and new ones are closed on arrival, like a relay that is
not running. *Slow* delays every answer while requests pass at once: the
server executes, the client's timeout fires first.

:func:`pause` and :func:`resume` send SIGSTOP/SIGCONT to a process and, for
PostgreSQL, to every backend it forked: a stopped postmaster alone would
leave existing connections working, which is not a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from vellet.bench.faults import LossyProxy


@dataclass
class GateProxy(LossyProxy):
    """A :class:`LossyProxy` that can also be cut (silent), refuse (down) or be slow."""

    #: Seconds every answer (target to client) is held back before it is passed on.
    delay: float = 0.0
    #: While True, new connections are closed at once (the target is "down").
    refusing: bool = False
    _open: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def __post_init__(self) -> None:
        self._open.set()

    async def start(self) -> GateProxy:
        await super().start()
        return self

    def cut(self) -> None:
        """Drop everything silently until :meth:`heal`."""
        self._open.clear()

    def refuse(self) -> None:
        """Close every connection now and every new one on arrival, until :meth:`heal`."""
        self.refusing = True
        for pump in list(self._pumps):
            pump.cancel()

    def heal(self) -> None:
        self.refusing = False
        self.delay = 0.0
        self._open.set()

    def address_for(self, url: str) -> str:
        """``url`` with its host and port replaced by this proxy's (user, path, query kept)."""
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@" if userinfo else ""
        return urlunsplit(parts._replace(netloc=f"{netloc}{self.host}:{self.port}"))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.close()
            return
        await self._open.wait()  # a partition: the client waits for an answer that never comes
        await super()._accept(reader, writer)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *,
                    upstream: bool) -> None:  # fmt: skip
        try:
            while True:
                await self._open.wait()  # cut: read nothing, the bytes wait in the kernel
                chunk = await source.read(65536)
                if not chunk:
                    break
                await self._open.wait()  # cut while this chunk was on its way: hold it
                if upstream:
                    self.sent_bytes += len(chunk)
                elif self.drop_responses:
                    self.dropped_bytes += len(chunk)
                    continue
                elif self.delay:
                    await asyncio.sleep(self.delay)
                sink.write(chunk)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                sink.close()


async def proxy_for(url: str) -> GateProxy:
    """A started :class:`GateProxy` in front of the server of ``url``."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return await GateProxy(parts.hostname, parts.port).start()


def process_tree(pid: int) -> list[int]:
    """``pid`` and every descendant (PostgreSQL's backends), parents first."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def pause(pid: int) -> list[int]:
    """SIGSTOP ``pid`` and its descendants; return who was stopped (for :func:`resume`)."""
    stopped = []
    for member in process_tree(pid):
        try:
            os.kill(member, signal.SIGSTOP)
            stopped.append(member)
        except ProcessLookupError:
            pass
    return stopped


def resume(pids: list[int]) -> None:
    """SIGCONT every process :func:`pause` stopped (and any child forked meanwhile)."""
    for member in [*pids, *(p for pid in pids[:1] for p in process_tree(pid))]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGCONT)
