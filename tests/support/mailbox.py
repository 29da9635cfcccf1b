"""The tests' real SMTP sink: every test bank mails its sign-up codes here.

One sink (the same aiosmtpd + Maildir one ``vellet up`` runs) per test
session, in a thread with its own event loop, so banks in any test's loop and
banks run as child processes all deliver to it over real SMTP. Tests read a
code the way a holder would: from the mail that reached the address on file.
"""

from __future__ import annotations

import asyncio
import atexit
import email
import mailbox
import shutil
import tempfile
import threading
from email import policy
from email.message import EmailMessage
from pathlib import Path

from vellet.bank.mailer import SUBJECT, find_code
from vellet.common.mail import SmtpSettings
from vellet.notifier.sink import MailSink, mail_to, start_sink, take_mail


class Mailbox:
    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="vellet-test-mail-")) / "mail"
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        self._sink: MailSink | None = None

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._sink = self._loop.run_until_complete(start_sink(self.directory))
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="test-mail-sink", daemon=True)
        self._thread.start()
        if not started.wait(30) or self._sink is None:
            raise RuntimeError("the test mail sink did not start")
        self.host, self.smtp_port = self._sink.host, self._sink.smtp_port

    def smtp(self) -> SmtpSettings:
        return SmtpSettings(host=self.host, port=self.smtp_port, sender="Bank <bank@test>")

    def env(self) -> dict[str, str]:
        """What a ``vellet bank serve`` process needs to mail here."""
        return {"VELLET_BANK_SMTP_HOST": self.host, "VELLET_BANK_SMTP_PORT": str(self.smtp_port)}

    def mail_to(self, address: str) -> list[EmailMessage]:
        return [msg for _, msg in mail_to(self.directory, address)]

    def everything(self) -> list[EmailMessage]:
        """Every mail the sink holds, whoever it was for."""
        box = mailbox.Maildir(self.directory, create=False)
        found = []
        for key in box.keys():  # noqa: SIM118 - a Maildir is not a dict
            with box.get_file(key) as fh:
                parsed = email.message_from_bytes(fh.read(), policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            found.append(parsed)
        return found

    async def code_for(self, address: str, within: float = 10.0) -> str:
        """The newest sign-up code mailed to ``address`` (taken out of the sink)."""
        message = await take_mail(self.directory, address, subject=SUBJECT, within=within)
        code = find_code(message)
        assert code is not None, message.as_string()
        return code

    def stop(self) -> None:
        sink = self._sink
        if sink is not None:
            asyncio.run_coroutine_threadsafe(sink.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        shutil.rmtree(self.directory.parent, ignore_errors=True)


_MAILBOX: list[Mailbox] = []


def session_mailbox() -> Mailbox:
    """The session's sink, started on first use and stopped when the tests end."""
    if not _MAILBOX:
        _MAILBOX.append(Mailbox())
        atexit.register(_MAILBOX[0].stop)
    return _MAILBOX[0]
