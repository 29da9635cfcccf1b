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
own text; a connection is reused for all parties of an event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum

import aiosmtplib

from vellet.common import mail
from vellet.common.mail import SmtpSettings


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

    def __init__(self, smtp: aiosmtplib.SMTP) -> None:
        self._smtp = smtp

    async def envelope(self, sender: str, recipient: str) -> Result:
        """MAIL FROM + RCPT TO; a refused sender means the relay is unusable."""
        try:
            await self._smtp.mail(sender)
        except aiosmtplib.SMTPResponseException as err:
            raise RelayUnavailable(f"MAIL FROM refused: {err.code}") from None
        except aiosmtplib.SMTPException as err:
            raise RelayUnavailable(type(err).__name__) from None
        try:
            await self._smtp.rcpt(recipient)
        except aiosmtplib.SMTPResponseException as err:
            await self._reset()
            return _result(err)
        except aiosmtplib.SMTPException as err:
            raise RelayUnavailable(type(err).__name__) from None
        return Result(Reply.ACCEPTED)

    async def data(self, message: bytes) -> Result:
        try:
            response = await self._smtp.data(message)
        except aiosmtplib.SMTPResponseException as err:
            await self._reset()
            return _result(err)
        except aiosmtplib.SMTPException as err:
            raise OutcomeUnknown(type(err).__name__) from None
        return Result(Reply.ACCEPTED, response.code, " ".join(response.message.split()))

    async def _reset(self) -> None:
        # After a refused RCPT or DATA the transaction must be reset before
        # the next party's MAIL FROM; a relay that fails even that is gone.
        try:
            await self._smtp.rset()
        except aiosmtplib.SMTPException as err:
            raise RelayUnavailable(f"RSET failed: {type(err).__name__}") from None


class Relay:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def _client(self) -> aiosmtplib.SMTP:
        return mail.client(self.settings)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        smtp = self._client()
        try:
            await smtp.connect()
        except (aiosmtplib.SMTPException, OSError) as err:
            # Type and code only: a server's text could echo credentials.
            code = getattr(err, "code", "")
            raise RelayUnavailable(f"connect failed: {type(err).__name__} {code}".strip()) from None
        try:
            yield Session(smtp)
        finally:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()

    async def probe(self) -> None:
        """Connect, greet, authenticate and quit (readiness)."""
        async with self.session():
            pass
