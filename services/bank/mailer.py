"""The bank mails sign-up codes to the address it holds for the account.

Sending happens after the HTTP answer, from a bounded queue drained by one
task: the answer to "create a challenge" then costs the same for an account
that exists (and is mailed) and one that does not (and is not), so neither
its content nor its timing tells them apart. A code that cannot be sent is
logged (never the code) and counted; the holder simply starts again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Final

import aiosmtplib
from prometheus_client import CollectorRegistry, Counter

from vellet.bank.domain import AccountView
from vellet.common import mail

log = logging.getLogger("vellet.bank.mailer")

#: Sends tried per code before it is given up (the holder can start again).
ATTEMPTS = 3
SUBJECT: Final = "Your Vellet sign-up code"
_CODE_LINE: Final = re.compile(r"^ {4}([0-9]{6})\s*$", re.MULTILINE)


def find_code(message: EmailMessage) -> str | None:
    """The code in a mail made by :func:`compose` (for trusted local readers)."""
    body = message.get_body(("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    found = _CODE_LINE.search(text)
    return found.group(1) if found else None


def compose(sender: str, view: AccountView, code: str, ttl_seconds: int) -> EmailMessage:
    """The code mail: to the e-mail on file, never to an address from a request."""
    name = " ".join(view.name.split())  # one line: nothing can reach another header
    message = EmailMessage()
    message["From"] = sender
    message["To"] = Address(display_name=name, addr_spec=view.email)
    message["Subject"] = SUBJECT
    message["Message-ID"] = make_msgid(domain="bank.vellet.localhost")
    minutes = max(1, ttl_seconds // 60)
    message.set_content(
        f"Hello {name},\n\n"
        f"someone asked to link your bank account ending in {view.account_number[-4:]} "
        "to a Vellet wallet.\nIf it was you, finish signing up with this code:\n\n"
        f"    {code}\n\n"
        f"It works once and expires in {minutes} minutes. If you already have a wallet "
        "for this account, you need no code: just log in.\nIf it was not you, ignore this "
        "mail: nothing happens without the code.\nNobody from the bank or from Vellet "
        "will ever ask you for it.\n"
    )
    return message


class SignupMailer:
    """A bounded queue of code mails and the task that sends them."""

    def __init__(
        self,
        smtp: mail.SmtpSettings,
        registry: CollectorRegistry,
        *,
        ttl_seconds: int,
        queue_size: int = 1000,
    ) -> None:
        self._smtp = smtp
        self._ttl = ttl_seconds
        # (account, code): the mail is composed by the sender task, off the request path.
        self._queue: asyncio.Queue[tuple[AccountView, str]] = asyncio.Queue(maxsize=queue_size)
        self.sent = Counter(
            "vellet_bank_signup_codes_total",
            "Sign-up code mails, by result (sent, failed, dropped when the queue was full).",
            ["result"],
            registry=registry,
        )
        for result in ("sent", "failed", "dropped"):
            self.sent.labels(result)

    def offer(self, view: AccountView, code: str) -> None:
        try:
            self._queue.put_nowait((view, code))
        except asyncio.QueueFull:
            self.sent.labels("dropped").inc()
            log.warning("sign-up code mail dropped: the mail queue is full")

    async def _send(self, message: EmailMessage) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                await mail.send(self._smtp, message)
            except (aiosmtplib.SMTPException, OSError) as err:
                # Type only: a relay's reply text could echo the message.
                log.warning("sign-up code mail not sent (try %d): %s", attempt, type(err).__name__)
                await asyncio.sleep(0.5 * attempt)
                continue
            self.sent.labels("sent").inc()
            return
        self.sent.labels("failed").inc()

    async def run(self) -> None:
        while True:
            view, code = await self._queue.get()
            try:
                await self._send(compose(self._smtp.sender, view, code, self._ttl))
            finally:
                self._queue.task_done()

    async def drained(self) -> None:
        """Wait until every queued mail was tried (tests, and a graceful stop)."""
        await self._queue.join()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self.run(), name="bank-signup-mailer")
        try:
            yield
        finally:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._smtp.timeout_s):
                    await self.drained()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
