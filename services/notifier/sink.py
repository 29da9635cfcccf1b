"""A local SMTP sink for `vellet up`: it keeps every mail where a person can read it.

Nothing is relayed anywhere. Each message is written to a Maildir (one file
per mail, readable with any mail client or ``cat``) and listed on a tiny
HTTP page, newest first, with the text part, the HTML part (shown in a
sandboxed frame with a CSP that forbids scripts, so even a broken template
cannot run anything), and the raw source.

The SMTP side is :mod:`vellet.notifier.sink_smtp`, a small server of our
own (aiosmtpd cost the sink about 2 ms of CPU per mail, more than the
notifier it is there to receive from).
"""

from __future__ import annotations

import asyncio
import email
import html
import itertools
import mailbox
import os
import time
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiohttp import web

from vellet.common.settings import HttpSettings
from vellet.common.web import Site, start
from vellet.notifier.sink_smtp import SinkProtocol

MAILDIR_KEY = web.AppKey("sink_maildir", mailbox.Maildir)
_FRAME_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


@dataclass
class _Counter:
    connections: int = 0
    mails: int = 0


class _Store:
    """Keeps every accepted mail in the Maildir.

    Each mail is written to ``tmp/`` and renamed into ``new/`` (the Maildir
    delivery protocol, so a reader never sees half a file), without the
    ``fsync`` that :meth:`mailbox.Maildir.add` does per message: that one
    call was most of the sink's time per mail (about 2 ms here), and this is
    a local development sink -- what a crash of the whole machine could lose
    is mail nobody relies on. Readers still use :mod:`mailbox`.
    """

    def __init__(self, directory: Path, counter: _Counter) -> None:
        self.tmp = os.path.join(directory, "tmp", "")
        self.new = os.path.join(directory, "new", "")
        self.counter = counter
        # Unique per process (pid) and per mail (sequence): never reused.
        self._name = f"P{os.getpid()}Q{{}}.vellet-sink"
        self._sequence = itertools.count()

    def keep(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> None:
        rcpts = ", ".join(rcpt_tos)
        head = f"X-Sink-Envelope-From: {mail_from}\r\nX-Sink-Envelope-To: {rcpts}\r\n"
        name = f"{time.time():.6f}." + self._name.format(next(self._sequence))
        with open(self.tmp + name, "xb") as fh:
            fh.write(head.encode() + content)
        os.rename(self.tmp + name, self.new + name)
        self.counter.mails += 1


@dataclass
class MailSink:
    """A running sink: where to send mail, where to read it, how to stop it."""

    host: str
    smtp_port: int
    maildir: Path
    site: Site
    server: asyncio.AbstractServer
    #: SMTP connections accepted so far (how well senders reuse theirs).
    counter: _Counter = field(default_factory=_Counter)

    @property
    def connections(self) -> int:
        return self.counter.connections

    @property
    def mails(self) -> int:
        """Mails kept since it started."""
        return self.counter.mails

    @property
    def http_url(self) -> str:
        return self.site.url

    def describe(self) -> str:
        return (
            f"mail sink: SMTP {self.host}:{self.smtp_port}, "
            f"read mail at {self.http_url}/ (Maildir {self.maildir})"
        )

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()
        await self.site.stop()


async def start_sink(
    directory: Path, *, host: str = "127.0.0.1", smtp_port: int = 0, http_port: int = 0
) -> MailSink:
    """Start the SMTP side and the HTTP page (port 0: any free port)."""
    maildir = _open_maildir(directory)
    counter = _Counter()
    store = _Store(directory, counter)
    loop = asyncio.get_running_loop()

    def protocol() -> SinkProtocol:
        counter.connections += 1
        return SinkProtocol(store.keep, "vellet-sink", size_limit=10 * 1024 * 1024)

    server = await loop.create_server(protocol, host, smtp_port)
    port = int(server.sockets[0].getsockname()[1])
    app = web.Application()
    app[MAILDIR_KEY] = maildir
    app.router.add_get("/", _index)
    app.router.add_get("/messages.json", _json)
    app.router.add_get("/messages/{key}", _show)
    app.router.add_get("/messages/{key}/html", _html_part)
    app.router.add_get("/messages/{key}/raw", _raw)
    try:
        site = await start("mail-sink", app, HttpSettings(host=host, port=http_port))
    except BaseException:
        server.close()
        raise
    return MailSink(host, port, directory, site, server, counter)


def _open_maildir(directory: Path) -> mailbox.Maildir:
    directory.parent.mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(directory, create=True)


def _parsed(maildir: mailbox.Maildir, key: str) -> tuple[float, EmailMessage]:
    try:
        with maildir.get_file(key) as fh:
            raw = fh.read()
        date = maildir.get_message(key).get_date()
    except (KeyError, ValueError, OSError):
        raise web.HTTPNotFound() from None
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)  # policy.default guarantees it
    return date, msg


def _summaries(maildir: mailbox.Maildir) -> list[dict[str, Any]]:
    rows: list[tuple[float, dict[str, Any]]] = []
    for key in maildir.keys():  # noqa: SIM118 - a Maildir is not a dict
        date, msg = _parsed(maildir, key)
        row = {
            "id": key,
            "received": date,
            "to": str(msg["To"] or ""),
            "from": str(msg["From"] or ""),
            "subject": str(msg["Subject"] or ""),
            "message_id": str(msg["Message-ID"] or ""),
        }
        rows.append((date, row))
    rows.sort(key=lambda pair: pair[0], reverse=True)
    return [row for _, row in rows]


async def _json(request: web.Request) -> web.Response:
    return web.json_response(_summaries(request.app[MAILDIR_KEY]))


def _page(title: str, body: str) -> web.Response:
    doc = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
        "</title><style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em .8em;"
        "text-align:left}iframe{width:100%;height:30em;border:1px solid #ccc}</style></head>"
        f"<body>{body}</body></html>"
    )
    response = web.Response(text=doc, content_type="text/html")
    response.headers["Content-Security-Policy"] = "default-src 'self'; style-src 'unsafe-inline'"
    return response


async def _index(request: web.Request) -> web.Response:
    rows = _summaries(request.app[MAILDIR_KEY])
    lines = "".join(
        f"<tr><td><a href='/messages/{html.escape(r['id'])}'>{html.escape(r['subject'])}</a></td>"
        f"<td>{html.escape(r['to'])}</td></tr>"
        for r in rows
    )
    return _page(
        "Vellet mail sink",
        f"<h1>Vellet mail sink</h1><p>{len(rows)} messages, newest first.</p>"
        f"<table><tr><th>Subject</th><th>To</th></tr>{lines}</table>",
    )


async def _show(request: web.Request) -> web.Response:
    key = request.match_info["key"]
    _, msg = _parsed(request.app[MAILDIR_KEY], key)
    text = msg.get_body(("plain",))
    headers = "".join(
        f"<tr><th>{name}</th><td>{html.escape(str(msg[name] or ''))}</td></tr>"
        for name in ("From", "To", "Subject", "Date", "Message-ID")
    )
    plain = html.escape(text.get_content()) if isinstance(text, EmailMessage) else ""
    return _page(
        str(msg["Subject"] or "message"),
        f"<p><a href='/'>all messages</a> · <a href='/messages/{html.escape(key)}/raw'>raw</a></p>"
        f"<table>{headers}</table><h2>Text</h2><pre>{plain}</pre><h2>HTML</h2>"
        f"<iframe sandbox src='/messages/{html.escape(key)}/html'></iframe>",
    )


async def _html_part(request: web.Request) -> web.Response:
    _, msg = _parsed(request.app[MAILDIR_KEY], request.match_info["key"])
    part = msg.get_body(("html",))
    body = part.get_content() if isinstance(part, EmailMessage) else ""
    response = web.Response(text=body, content_type="text/html")
    response.headers["Content-Security-Policy"] = _FRAME_CSP
    return response


async def _raw(request: web.Request) -> web.Response:
    _, msg = _parsed(request.app[MAILDIR_KEY], request.match_info["key"])
    return web.Response(body=msg.as_bytes(policy=policy.SMTP), content_type="text/plain")


def mail_to(directory: Path, address: str) -> list[tuple[str, EmailMessage]]:
    """Every kept mail whose envelope recipient is ``address``, oldest first, with its key."""
    maildir = _open_maildir(directory)
    found: list[tuple[float, str, EmailMessage]] = []
    for key in maildir.keys():  # noqa: SIM118 - a Maildir is not a dict
        date, msg = _parsed(maildir, key)
        recipients = [r.strip() for r in str(msg["X-Sink-Envelope-To"] or "").split(",")]
        if address in recipients:
            found.append((date, key, msg))
    found.sort(key=lambda row: row[0])
    return [(key, msg) for _, key, msg in found]


async def take_mail(
    directory: Path, address: str, *, subject: str, within: float = 10.0
) -> EmailMessage:
    """Wait for the newest mail to ``address`` with ``subject``, remove it, return it.

    For trusted local readers (``vellet up``'s demo sign-ups, tests): taking
    it out means the next reader cannot pick up a stale one.
    """
    deadline = asyncio.get_running_loop().time() + within
    while True:
        matching = [(k, m) for k, m in mail_to(directory, address) if m["Subject"] == subject]
        if matching:
            key, msg = matching[-1]
            _open_maildir(directory).discard(key)
            return msg
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"no mail {subject!r} to {address} within {within} s")
        await asyncio.sleep(0.05)
