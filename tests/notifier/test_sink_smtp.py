"""The sink's own SMTP server: RFC 5321 order, dot-stuffing, limits, pipelining."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiosmtplib
import pytest

from vellet.notifier.sink_smtp import SinkProtocol

Kept = list[tuple[str, list[str], bytes]]


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, Kept]]:
    kept: Kept = []
    loop = asyncio.get_running_loop()

    def protocol() -> SinkProtocol:
        return SinkProtocol(lambda f, t, c: kept.append((f, list(t), c)), "sink", size_limit=1000)

    srv = await loop.create_server(protocol, "127.0.0.1", 0)
    try:
        yield int(srv.sockets[0].getsockname()[1]), kept
    finally:
        srv.close()
        await srv.wait_closed()


async def client(port: int) -> aiosmtplib.SMTP:
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=5)
    await smtp.connect()
    return smtp


async def test_a_mail_is_kept_with_its_envelope_and_dots_unstuffed(
    server: tuple[int, Kept],
) -> None:
    port, kept = server
    smtp = await client(port)
    body = b"Subject: x\r\n\r\n.leading dot\r\n..two\r\n.\r\nnot the end\r\n"
    reply = await smtp.sendmail("a@example.test", ["b@example.test", "c@example.test"], body)
    await smtp.sendmail("a@example.test", ["d@example.test"], b"second\r\n")
    assert smtp.supports_extension("pipelining")
    assert smtp.supports_extension("8bitmime")
    await smtp.quit()
    assert "kept in the sink" in reply[1]
    assert kept == [
        ("a@example.test", ["b@example.test", "c@example.test"], body),
        ("a@example.test", ["d@example.test"], b"second\r\n"),
    ]


async def raw(port: int, *chunks: bytes, replies: int) -> list[bytes]:
    """Write ``chunks`` as they are (split anywhere) and read ``replies`` final reply lines."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [await reader.readline()]  # greeting
    for chunk in chunks:
        writer.write(chunk)
        await writer.drain()
    while len([x for x in lines if x[3:4] == b" "]) < replies + 1:
        lines.append(await asyncio.wait_for(reader.readline(), 5))
    writer.close()
    return [x for x in lines[1:] if x[3:4] == b" "]


async def test_commands_out_of_order_are_refused(server: tuple[int, Kept]) -> None:
    port, kept = server
    got = await raw(port, b"MAIL FROM:<a@x>\r\nEHLO me\r\nRCPT TO:<b@x>\r\nDATA\r\n"
                    b"MAIL FROM:<a@x>\r\nMAIL FROM:<a@x>\r\nDATA\r\nRCPT TO:b@x\r\nBOGUS\r\n"
                    b"RSET\r\nRCPT TO:<b@x>\r\nQUIT\r\n", replies=12)  # fmt: skip
    assert [line[:3] for line in got] == [
        b"503", b"250", b"503", b"503", b"250", b"503", b"503", b"501", b"500",
        b"250", b"503", b"221",
    ]  # fmt: skip
    assert kept == []


async def test_pipelined_and_byte_by_byte_input_is_answered_in_order(
    server: tuple[int, Kept],
) -> None:
    port, kept = server
    session = b"EHLO me\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n"
    message = b"hello\r\n.\r\n"
    got = await raw(port, session, *(bytes([b]) for b in message), b"QUIT\r\n", replies=6)
    assert [line[:3] for line in got] == [b"250", b"250", b"250", b"354", b"250", b"221"]
    assert kept == [("a@x", ["b@x"], b"hello\r\n")]


async def test_an_empty_message_ends_at_once(server: tuple[int, Kept]) -> None:
    port, kept = server
    got = await raw(port, b"HELO me\r\nMAIL FROM:<>\r\nRCPT TO:<b@x>\r\nDATA\r\n.\r\n", replies=5)
    assert got[-1].startswith(b"250")
    assert kept == [("", ["b@x"], b"")]


async def test_too_big_a_message_is_refused_and_the_connection_goes_on(
    server: tuple[int, Kept],
) -> None:
    port, kept = server
    smtp = await client(port)
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await smtp.sendmail("a@x", ["b@x"], b"x" * 600 + b"\r\n" + b"y" * 600 + b"\r\n")
    assert refused.value.code == 552
    await smtp.sendmail("a@x", ["b@x"], b"small\r\n")
    await smtp.quit()
    assert kept == [("a@x", ["b@x"], b"small\r\n")]


async def test_a_command_line_too_long_is_refused(server: tuple[int, Kept]) -> None:
    port, _ = server
    got = await raw(port, b"NOOP " + b"x" * 2000 + b"\r\nNOOP\r\n", replies=2)
    assert got[0].startswith(b"500")
    assert got[-1].startswith(b"250")


async def test_an_idle_client_is_told_421_and_disconnected(
    server: tuple[int, Kept], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, _ = server
    monkeypatch.setattr("vellet.notifier.sink_smtp.IDLE_S", 0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()  # greeting
    writer.write(b"NOOP\r\n")
    assert (await reader.readline()).startswith(b"250")  # activity keeps it open
    assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"421")
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
