"""The drill's fault tools do what they say: a cut link is silent, a refused one
closes, a slow one answers late, a paused process answers nothing until resumed.

Each runs against a real echo server (a child process for the pause), and
each would pass the wrong way if the tool were a no-op.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from vellet.bench.faults_net import GateProxy, pause, process_tree, resume
from vellet.common.embedded import free_port


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.readline():
        writer.write(data)
        await writer.drain()
    writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[GateProxy]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    gate = await GateProxy("127.0.0.1", port).start()
    try:
        yield gate
    finally:
        gate.heal()
        await gate.stop()
        server.close()


async def _ask(port: int, line: bytes, wait: float) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(line)
        return await asyncio.wait_for(reader.readline(), wait)
    finally:
        writer.close()


async def test_a_cut_link_answers_nothing_and_resumes_when_healed(proxy: GateProxy) -> None:
    assert await _ask(proxy.port, b"before\n", 5) == b"before\n"
    proxy.cut()
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)  # accepted...
    writer.write(b"during\n")
    with pytest.raises(TimeoutError):  # ...and silent: no answer, no reset
        await asyncio.wait_for(reader.readline(), 0.5)
    assert not reader.at_eof()
    proxy.heal()
    assert await asyncio.wait_for(reader.readline(), 5) == b"during\n"  # held, then delivered
    writer.close()


async def _closed(reader: asyncio.StreamReader) -> bool:
    """The peer closed or reset the connection (both are "refused" to a client)."""
    try:
        return await asyncio.wait_for(reader.read(), 5) == b""
    except ConnectionResetError:
        return True


async def test_a_refusing_link_closes_connections_at_once(proxy: GateProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"x\n")
    assert await asyncio.wait_for(reader.readline(), 5) == b"x\n"
    proxy.refuse()
    assert await _closed(reader)  # the open one is closed
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"y\n")
    assert await _closed(reader)  # and a new one at once
    proxy.heal()
    assert await _ask(proxy.port, b"z\n", 5) == b"z\n"


async def test_a_slow_link_answers_after_the_clients_timeout(proxy: GateProxy) -> None:
    proxy.delay = 2.0
    with pytest.raises(TimeoutError):
        await _ask(proxy.port, b"slow\n", 0.5)
    proxy.heal()
    assert await _ask(proxy.port, b"fast\n", 5) == b"fast\n"


async def test_a_paused_process_answers_nothing_until_resumed() -> None:
    port = free_port()
    code = (
        "import asyncio, sys\n"
        "async def echo(r, w):\n"
        "    while d := await r.readline():\n"
        "        w.write(d); await w.drain()\n"
        "async def main():\n"
        f"    s = await asyncio.start_server(echo, '127.0.0.1', {port})\n"
        "    print('up', flush=True)\n"
        "    await s.serve_forever()\n"
        "asyncio.run(main())\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert await asyncio.to_thread(child.stdout.readline) == b"up\n"
        assert process_tree(child.pid)[0] == child.pid
        stopped = pause(child.pid)
        try:
            assert child.pid in stopped
            reader, writer = await asyncio.open_connection("127.0.0.1", port)  # the kernel
            writer.write(b"asleep?\n")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(reader.readline(), 0.5)
        finally:
            resume(stopped)
        assert await asyncio.wait_for(reader.readline(), 5) == b"asleep?\n"
        writer.close()
    finally:
        child.kill()
        child.wait()
