"""Mail in the drill's books: a real notifier, a real SMTP sink, and the count.

The notifier runs as a ``vellet notifier serve`` process and reaches the sink
(``vellet notifier sink``, a process of its own so its disk writes do not
compete with the drill's clients) through a :class:`GateProxy`, so the relay
can be taken down. :func:`mail_books` then holds the sink to the wallet's
database: every party of every finished deposit or withdrawal (posted,
voided or failed) must have its mail, and the README's bound is at most one
extra copy per recipient per event.
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from vellet.common.embedded import free_port

_TRANSFER_RE = re.compile(rb"^X-Vellet-Transfer-Id:\s*(\S+)", re.MULTILINE | re.IGNORECASE)
_TO_RE = re.compile(rb"^X-Sink-Envelope-To:\s*(.+?)\r?$", re.MULTILINE | re.IGNORECASE)

#: Who must get a mail: the owner of every finished deposit and withdrawal.
_EXPECTED_SQL = """
SELECT t.id::text AS transfer_id, u.email
FROM transfers t JOIN users u ON u.id = coalesce(t.from_user_id, t.to_user_id)
WHERE t.kind IN ('deposit', 'withdrawal') AND t.state IN ('posted', 'voided', 'failed')
"""


@dataclass
class SinkProcess:
    """``vellet notifier sink`` as a child process, keeping mail in ``maildir``."""

    maildir: Path
    log_path: Path
    host: str = "127.0.0.1"
    smtp_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SinkProcess:
        self.smtp_port = self.smtp_port or free_port(self.host)
        args = [sys.executable, "-m", "vellet", "notifier", "sink", "--dir", str(self.maildir),
                "--host", self.host, "--smtp-port", str(self.smtp_port),
                "--http-port", str(free_port(self.host))]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                socket.create_connection((self.host, self.smtp_port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the mail sink did not start; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)


@dataclass
class MailBooks:
    #: (transfer, recipient) pairs that must have a mail.
    expected: int = 0
    #: Pairs that got at least one.
    sent: int = 0
    #: Extra copies beyond the first, over all pairs.
    duplicated: int = 0
    #: Pairs with more than the documented one extra copy.
    over_bound: int = 0
    #: Pairs still without mail.
    missing: int = 0
    #: Mail for a transfer that is not finished, or to someone not a party.
    unexpected: int = 0
    #: Recipients the notifier gave up on (``vellet:notifier:dead``).
    dead: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.over_bound or self.unexpected)


def received(maildir: Path) -> Counter[tuple[str, str]]:
    """Copies per (transfer id, envelope recipient) in the sink, from the headers alone."""
    copies: Counter[tuple[str, str]] = Counter()
    for sub in ("new", "cur"):
        folder = maildir / sub
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            try:
                head = path.read_bytes().split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
            except OSError:
                continue
            transfer = _TRANSFER_RE.search(head)
            to = _TO_RE.search(head)
            if transfer is None or to is None:
                continue  # not a transfer mail (none is expected in this sink)
            for rcpt in to.group(1).decode().split(","):
                copies[(transfer.group(1).decode(), rcpt.strip().lower())] += 1
    return copies


async def expected_mail(wallet_dsn: str) -> set[tuple[str, str]]:
    conn = await asyncpg.connect(wallet_dsn)
    try:
        rows = await conn.fetch(_EXPECTED_SQL)
    finally:
        await conn.close()
    return {(r["transfer_id"], str(r["email"]).lower()) for r in rows}


async def mail_books(wallet_dsn: str, maildir: Path, dead: int) -> MailBooks:
    want = await expected_mail(wallet_dsn)
    got = await asyncio.to_thread(received, maildir)
    books = MailBooks(expected=len(want), dead=dead)
    books.sent = sum(1 for pair in want if got.get(pair, 0) > 0)
    books.missing = books.expected - books.sent
    books.duplicated = sum(n - 1 for n in got.values() if n > 1)
    books.over_bound = sum(1 for n in got.values() if n > 2)
    books.unexpected = sum(1 for pair in got if pair not in want)
    return books


async def wait_for_mail(wallet_dsn: str, maildir: Path, within: float) -> tuple[int, float]:
    """Wait until every expected mail is in the sink or ``within`` seconds pass.

    Returns (pairs still missing, seconds waited). The deadline is explicit
    because a notifier that fell behind would otherwise make the drill wait
    for ever: a slow notifier shows as a long wait, a stuck one as missing mail.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        looked = loop.time()
        want = await expected_mail(wallet_dsn)
        got = await asyncio.to_thread(received, maildir)
        missing = sum(1 for pair in want if got.get(pair, 0) == 0)
        waited = loop.time() - started
        if missing == 0 or waited > within:
            return missing, waited
        # Reading every mail's headers costs CPU the notifier needs: look less
        # often when looking is slow (tens of thousands of mails).
        await asyncio.sleep(max(1.0, 4 * (loop.time() - looked)))
