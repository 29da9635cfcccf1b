"""The local sink's SMTP side: a small server that accepts every mail and keeps it.

Why not aiosmtpd (which the sink used before, and the notifier's tests still
use as their scriptable relay): it reads DATA one line at a time through a
``StreamReader`` and parses every address with the ``email`` package, about
2 ms of CPU per mail here -- more than the notifier spends making and sending
one, on the same two cores, so the benchmark measured the sink. This server
takes what the sink needs and nothing more, on a plain
:class:`asyncio.Protocol` over one buffer:

* EHLO/HELO, MAIL FROM, RCPT TO, DATA, RSET, NOOP, VRFY, QUIT, in the order
  RFC 5321 requires (503 otherwise); commands may be pipelined (RFC 2920,
  advertised): they are answered one by one, in order.
* DATA ends at the first ``CRLF.CRLF``; dot-stuffing is undone (RFC 5321
  4.5.2); a message over ``size_limit`` is read to its end and refused with
  552, and the connection stays usable.
* A command line over 1,000 octets, or unknown, is refused (500); a client
  idle for :data:`IDLE_S` is told 421 and disconnected.
* Plain text only, no AUTH: it listens on loopback for development.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

#: Seconds a connection may sit idle before the server closes it (as aiosmtpd).
IDLE_S: Final = 300.0
#: RFC 5321 4.5.3.1.4: a command line is at most 512 octets; accept a little more.
MAX_LINE: Final = 1000

Deliver = Callable[[str, list[str], bytes], None]


def _address(arg: str, keyword: str) -> str | None:
    """The address in ``FROM:<a>`` / ``TO:<a>`` (parameters after it ignored), or None."""
    if arg[: len(keyword)].upper() != keyword:
        return None
    rest = arg[len(keyword) :].strip()
    if not rest.startswith("<") or ">" not in rest:
        return None
    return rest[1 : rest.index(">")]


class SinkProtocol(asyncio.Protocol):
    """One SMTP connection; every accepted message goes to ``deliver``."""

    def __init__(self, deliver: Deliver, hostname: str, size_limit: int) -> None:
        self._deliver = deliver
        self._hostname = hostname
        self._size_limit = size_limit
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._greeted = False
        self._mail_from: str | None = None
        self._rcpt_tos: list[str] = []
        self._in_data = False
        self._too_big = False
        self._scan_from = 0
        self._idle: asyncio.TimerHandle | None = None
        self._active = False
        self._closing = False
        #: Replies to what one read brought, written together (one send).
        self._out: list[bytes] = []

    # -- transport events

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._reply(f"220 {self._hostname} ESMTP vellet mail sink")
        self._flush()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._idle is not None:
            self._idle.cancel()

    def data_received(self, data: bytes) -> None:
        self._active = True
        self._buffer += data
        while self._transport is not None and not self._closing:
            if not (self._take_data() if self._in_data else self._take_line()):
                break
        self._flush()

    def _watch(self) -> None:
        # One timer per idle period, not one per packet: activity only sets a flag.
        self._idle = asyncio.get_running_loop().call_later(IDLE_S, self._check_idle)

    def _check_idle(self) -> None:
        if self._transport is None:
            return
        if self._active:
            self._active = False
            self._watch()
            return
        self._reply("421 idle too long, closing")
        self._close()

    def _reply(self, line: str) -> None:
        self._out.append(line.encode() + b"\r\n")

    def _close(self) -> None:
        self._closing = True
        self._flush()
        if self._transport is not None:
            self._transport.close()

    def _flush(self) -> None:
        if self._out and self._transport is not None:
            self._transport.write(b"".join(self._out))
        self._out.clear()

    # -- parsing

    def _take_line(self) -> bool:
        end = self._buffer.find(b"\n")
        if end == -1:
            if len(self._buffer) > MAX_LINE:
                self._buffer.clear()
                self._reply("500 Line too long")
            return False
        raw = bytes(self._buffer[:end]).rstrip(b"\r")
        del self._buffer[: end + 1]
        if len(raw) > MAX_LINE:
            self._reply("500 Line too long")
            return True
        self._command(raw.decode("utf-8", "replace"))
        return True

    def _take_data(self) -> bool:
        # The buffer starts with the CRLF that ended the DATA line (put back
        # by _data), so an empty message and the first line are no special case.
        end = self._buffer.find(b"\r\n.\r\n", self._scan_from)
        if end == -1:
            if len(self._buffer) > self._size_limit + 2:
                # Too big: keep only the last 4 bytes (where a terminator may
                # have begun) behind a prefix that cannot be part of one.
                self._too_big = True
                self._buffer[:-4] = b"xx"
            self._scan_from = max(0, len(self._buffer) - 4)
            return False
        content = bytes(self._buffer[: end + 2]).replace(b"\r\n.", b"\r\n")[2:]
        del self._buffer[: end + 5]
        self._in_data, self._scan_from = False, 0
        if self._too_big or len(content) > self._size_limit:
            self._reply("552 Error: Too much mail data")
        else:
            assert self._mail_from is not None
            self._deliver(self._mail_from, self._rcpt_tos, content)
            self._reply("250 OK: kept in the sink")
        self._too_big = False
        self._reset()
        return True

    # -- commands

    def _reset(self) -> None:
        self._mail_from, self._rcpt_tos = None, []

    def _command(self, line: str) -> None:
        verb, _, arg = line.partition(" ")
        verb, arg = verb.upper(), arg.strip()
        if verb in {"EHLO", "HELO"}:
            self._greeted = True
            self._reset()
            if verb == "HELO":
                self._reply(f"250 {self._hostname}")
                return
            lines = [self._hostname, f"SIZE {self._size_limit}", "8BITMIME", "SMTPUTF8",
                     "PIPELINING", "HELP"]  # fmt: skip
            self._reply("\r\n".join(f"250-{x}" for x in lines[:-1]) + f"\r\n250 {lines[-1]}")
        elif verb == "MAIL":
            self._mail(arg)
        elif verb == "RCPT":
            self._rcpt(arg)
        elif verb == "DATA":
            self._data(arg)
        elif verb == "RSET":
            self._reset()
            self._reply("250 OK")
        elif verb == "NOOP":
            self._reply("250 OK")
        elif verb == "VRFY":
            self._reply("252 Cannot VRFY user, but will accept message and attempt delivery")
        elif verb == "QUIT":
            self._reply("221 Bye")
            self._close()
        else:
            self._reply(f'500 Error: command "{verb[:20]}" not recognized')

    def _mail(self, arg: str) -> None:
        if not self._greeted:
            self._reply("503 Error: send HELO first")
            return
        if self._mail_from is not None:
            self._reply("503 Error: nested MAIL command")
            return
        address = _address(arg, "FROM:")
        if address is None:
            self._reply("501 Syntax: MAIL FROM: <address>")
            return
        self._mail_from = address
        self._reply("250 OK")

    def _rcpt(self, arg: str) -> None:
        if self._mail_from is None:
            self._reply("503 Error: need MAIL command")
            return
        address = _address(arg, "TO:")
        if not address:
            self._reply("501 Syntax: RCPT TO: <address>")
            return
        self._rcpt_tos.append(address)
        self._reply("250 OK")

    def _data(self, arg: str) -> None:
        if not self._rcpt_tos:
            self._reply("503 Error: need RCPT command")
            return
        if arg:
            self._reply("501 Syntax: DATA")
            return
        self._in_data = True
        self._buffer[:0] = b"\r\n"
        self._reply("354 End data with <CR><LF>.<CR><LF>")
