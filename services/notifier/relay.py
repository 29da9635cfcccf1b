"""The SMTP relay, with every failure sorted into what the worker does next.

Sorting rules (RFC 5321 reply classes):

* The relay cannot be reached or will not start a mail transaction
  (connection refused, timeout, TLS or AUTH failure, any reply to MAIL FROM
  other than 250, the server hanging up): :class:`RelayUnavailable`. Nothing
  about the recipient is known; the worker waits and tries again, without
  counting it against the recipient.
* RCPT TO or DATA answered 4xx: :attr:`Reply.TEMPORARY` for that recipient.
* RCPT TO or DATA answered 5xx: :attr:`Reply.PERMANENT` for that recipient.
* DATA sent but no reply (disconnect, timeout): the relay may or may not have
  taken the message. :class:`OutcomeUnknown` -- the ledger keeps the party
  in ``sending`` so the duplicate rule applies.

One mail per SMTP transaction (one RCPT each), because every party gets its
own text. The connection is kept open between events and reused (a new TCP
and TLS handshake, greeting and AUTH per event capped the notifier at about
140 mails/s on loopback): :meth:`Relay.session` hands out the one idle
connection, and any failure inside a session closes it, so the next session
starts from a fresh connect. A transaction left open (a party given up
between RCPT and DATA) is ended with RSET before the next MAIL FROM; after
a completed DATA the transaction is already over (RFC 5321 4.1.1.4), so no
RSET round trip is spent there. A kept connection the relay closed while it
sat idle is noticed at MAIL FROM -- before anything of a message was sent --
and replaced once, transparently; one idle longer than :data:`IDLE_CLOSE_S`
is not trusted and is replaced before use.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Final

import aiosmtplib

from vellet.common import mail
from vellet.common.mail import SmtpSettings

#: A kept connection idle longer than this is closed and replaced before use:
#: relays drop idle clients (aiosmtpd after 300 s, others sooner), and a
#: fresh connect is cheaper than finding out at MAIL FROM.
IDLE_CLOSE_S: Final = 30.0
#: How long a stop waits for the relay's answer to QUIT.
QUIT_WAIT_S: Final = 1.0


class RelayUnavailable(Exception):
    """The relay cannot take mail right now; says nothing about the recipient."""


class OutcomeUnknown(Exception):
    """DATA was sent and no reply came back: the mail may have been taken."""


class Reply(Enum):
    ACCEPTED = "accepted"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class Result:
    reply: Reply
    code: int = 250
    text: str = ""

    @property
    def detail(self) -> str:
        return f"{self.code} {self.text}".strip()[:300]


def _result(err: aiosmtplib.SMTPResponseException) -> Result:
    reply = Reply.PERMANENT if 500 <= err.code < 600 else Reply.TEMPORARY
    return Result(reply, err.code, " ".join(str(err.message).split()))


class Session:
    """One open, authenticated SMTP connection."""

    def __init__(self, smtp: aiosmtplib.SMTP, relay: Relay | None = None) -> None:
        self._smtp = smtp
        self._relay = relay
        #: A MAIL FROM was accepted and the transaction not yet ended.
        self._open = False
        #: A kept connection not yet used in this session: a hang-up at its
        #: first MAIL FROM means the relay dropped it while it sat idle.
        self._kept_unproven = relay is not None

    async def envelope(self, sender: str, recipient: str) -> Result:
        """MAIL FROM + RCPT TO; a refused sender means the relay is unusable."""
        if self._open:
            await self._reset()
        await self._mail(sender)
        self._open = True
        try:
            await self._smtp.rcpt(recipient)
        except aiosmtplib.SMTPResponseException as err:
            await self._reset()
            return _result(err)
        except aiosmtplib.SMTPException as err:
            raise RelayUnavailable(type(err).__name__) from None
        return Result(Reply.ACCEPTED)

    async def _mail(self, sender: str) -> None:
        reused, self._kept_unproven = self._kept_unproven, False
        try:
            await self._smtp.mail(sender)
            return
        except aiosmtplib.SMTPResponseException as err:
            raise RelayUnavailable(f"MAIL FROM refused: {err.code}") from None
        except aiosmtplib.SMTPServerDisconnected:
            if not reused or self._relay is None:
                raise RelayUnavailable("SMTPServerDisconnected") from None
        except aiosmtplib.SMTPException as err:
            raise RelayUnavailable(type(err).__name__) from None
        # The kept connection was closed by the relay while idle: nothing of
        # this message went out yet, so a new connection is safe. Once only.
        self._smtp.close()
        self._smtp = await self._relay.connect()
        self._relay.replaced += 1
        await self._mail(sender)

    @property
    def connection(self) -> aiosmtplib.SMTP:
        """The connection now in use (it may have been replaced at MAIL FROM)."""
        return self._smtp

    async def end(self) -> bool:
        """End a transaction left open (RSET); False when the connection is unusable."""
        if not self._open:
            return True
        try:
            await self._reset()
        except RelayUnavailable:
            return False
        return True

    async def data(self, message: bytes) -> Result:
        try:
            response = await self._smtp.data(message)
        except aiosmtplib.SMTPResponseException as err:
            await self._reset()
            return _result(err)
        except aiosmtplib.SMTPException as err:
            raise OutcomeUnknown(type(err).__name__) from None
        self._open = False
        return Result(Reply.ACCEPTED, response.code, " ".join(response.message.split()))

    async def _reset(self) -> None:
        # After a refused RCPT or DATA, or a party given up mid-transaction,
        # the transaction must be reset before the next party's MAIL FROM; a
        # relay that fails even that is gone.
        try:
            await self._smtp.rset()
        except aiosmtplib.SMTPException as err:
            raise RelayUnavailable(f"RSET failed: {type(err).__name__}") from None
        self._open = False


class Relay:
    """The relay, with at most one kept connection (one worker task uses it)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._idle: aiosmtplib.SMTP | None = None
        self._idle_since = 0.0
        # One session at a time: an SMTP connection carries one transaction.
        self._lock = asyncio.Lock()
        #: Connections opened (for the benchmark and the tests).
        self.connects = 0
        #: Kept connections found closed by the relay and replaced at MAIL FROM.
        self.replaced = 0

    def _client(self) -> aiosmtplib.SMTP:
        return mail.client(self.settings)

    async def connect(self) -> aiosmtplib.SMTP:
        smtp = self._client()
        try:
            await smtp.connect()
        except (aiosmtplib.SMTPException, OSError) as err:
            # Type and code only: a server's text could echo credentials.
            code = getattr(err, "code", "")
            raise RelayUnavailable(f"connect failed: {type(err).__name__} {code}".strip()) from None
        self.connects += 1
        return smtp

    async def _take(self) -> tuple[aiosmtplib.SMTP, bool]:
        """The kept connection if it is fit for use (and whether it was kept), else a new one."""
        smtp, self._idle = self._idle, None
        if smtp is not None:
            if smtp.is_connected and time.monotonic() - self._idle_since < IDLE_CLOSE_S:
                return smtp, True
            await _quit(smtp)
        return await self.connect(), False

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        """A connection for one round of sends; kept for the next if nothing failed."""
        async with self._lock:
            smtp, kept = await self._take()
            session = Session(smtp, self if kept else None)
            try:
                yield session
            except BaseException:
                # Whatever state the conversation is in, it is not trusted again.
                session.connection.close()
                raise
            if not await session.end():
                session.connection.close()
                return
            self._idle, self._idle_since = session.connection, time.monotonic()

    async def close(self) -> None:
        """QUIT the kept connection (at shutdown), waiting briefly for the goodbye."""
        async with self._lock:
            smtp, self._idle = self._idle, None
            if smtp is not None:
                # Nothing is in flight; a relay slow to answer QUIT must not
                # hold up the stop (it would take a full SMTP timeout).
                try:
                    async with asyncio.timeout(QUIT_WAIT_S):
                        await _quit(smtp)
                except TimeoutError:
                    smtp.close()

    async def probe(self) -> None:
        """Connect, greet, authenticate and quit (readiness), on a connection of its own."""
        await _quit(await self.connect())


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    try:
        await smtp.quit()
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()
