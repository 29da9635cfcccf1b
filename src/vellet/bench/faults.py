"""Tools that break things on purpose: service processes to SIGKILL, a lossy proxy.

Used by ``vellet bench drill`` and by the tests of deposits and withdrawals
(``tests/support``), so a fault is injected the same way in both.

* :class:`ServiceProcess` runs ``vellet <component> serve`` as a real child
  process that can be killed with SIGKILL (no cleanup, no acknowledgement)
  and started again with the same environment (the same consumer name, so
  it drains the stream entries it held when it died).
* :class:`LossyProxy` forwards TCP to a server and, while ``drop_responses``
  is set, throws the server's bytes away: the server executes the request,
  the client never hears back and times out. That is the one failure a
  timeout cannot tell apart from "never arrived".
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp


@dataclass
class ServiceProcess:
    """``vellet <component> serve`` as a child process on a known port."""

    component: str
    env: dict[str, str]
    port: int
    #: Where its stderr (logs) goes; a file, never a pipe nobody drains.
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    #: Its internal port (``/metrics``, internal and admin routes), if it has one.
    internal_port: int | None = None
    #: How Python runs it: ``-m vellet``, or under the profiler
    #: (``-m vellet.bench.profiled OUT``, see ``vellet bench mail --profile``).
    runner: tuple[str, ...] = ("-m", "vellet")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def internal_url(self) -> str:
        """Where its ``/metrics`` answers: the internal port, or its only one."""
        return f"http://127.0.0.1:{self.internal_port or self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    async def start(self, within: float = 60.0) -> ServiceProcess:
        with self.log_path.open("ab") as log:
            # Popen returns at once, and a plain Popen can be SIGKILLed and
            # waited for from any loop (or none).
            self.proc = subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, *self.runner, self.component, "serve"], env=self.env,
                stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        self.starts += 1
        await wait_healthy(self.url, self.proc, within, self.log_path)
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup, no acknowledgement, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


async def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None = None,
                       within: float = 60.0, log_path: Path | None = None) -> None:  # fmt: skip
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    async with aiohttp.ClientSession() as http:
        while loop.time() < deadline:
            if proc is not None and proc.poll() is not None:
                err = _tail(log_path) if log_path else ""
                raise RuntimeError(f"process exited with {proc.returncode}: {err}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(f"{url}/healthz", timeout=aiohttp.ClientTimeout(1)) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise TimeoutError(f"{url} did not become healthy within {within:.0f}s")


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:]


@dataclass
class LossyProxy:
    """A TCP proxy on loopback that can swallow every answer."""

    target_host: str
    target_port: int
    host: str = "127.0.0.1"
    port: int = 0
    #: While True, bytes from the target are read and thrown away.
    drop_responses: bool = False
    #: Bytes forwarded to the target, and bytes of answers thrown away.
    sent_bytes: int = 0
    dropped_bytes: int = 0
    _server: asyncio.Server | None = field(default=None, repr=False)
    _pumps: set[asyncio.Future[Any]] = field(default_factory=set, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> LossyProxy:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for pump in list(self._pumps):
            pump.cancel()
        for pump in list(self._pumps):
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host,
                                                                 self.target_port)  # fmt: skip
        except OSError:
            writer.close()
            return
        # The two directions run in a task of our own, so stop() can cancel
        # them while this handler (owned by asyncio's server) ends normally.
        pump = asyncio.ensure_future(asyncio.gather(
            self._pump(reader, up_writer, upstream=True),
            self._pump(up_reader, writer, upstream=False),
        ))  # fmt: skip
        self._pumps.add(pump)
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        finally:
            self._pumps.discard(pump)
            for w in (writer, up_writer):
                w.close()

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *,
                    upstream: bool) -> None:  # fmt: skip
        try:
            while chunk := await source.read(65536):
                if upstream:
                    self.sent_bytes += len(chunk)
                elif self.drop_responses:
                    self.dropped_bytes += len(chunk)
                    continue
                sink.write(chunk)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                sink.close()
