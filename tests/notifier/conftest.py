"""Fixtures for the notifier: a real SMTP server (aiosmtpd), notifiers, events.

The SMTP server runs in the test's own event loop on a fixed loopback port,
so a test can stop it (the relay is down), start it again on the same port,
make it refuse one recipient (at RCPT TO or at DATA), or SIGKILL a notifier process at an exact
point of the SMTP conversation -- e.g. after it stored a message and before
it answered 250, which is the notifier's duplicate window.
"""

from __future__ import annotations

import asyncio
import email
import json
import os
import ssl
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP

from tests.notifier.processes import Fleet
from tests.support.keys import key_env, key_settings
from tests.support.metrics import scrape
from vellet.common.embedded import free_port
from vellet.common.settings import HttpSettings, StreamSettings
from vellet.common.streams import TRANSFER_EVENTS, Redis, connect
from vellet.common.web import Site, start
from vellet.notifier.app import GROUP, create_app
from vellet.notifier.settings import NotifierSettings, RetrySettings, SmtpSettings
from vellet.notifier.store import DEAD_RECIPIENTS, PREFIX

Hook = Callable[[str], Awaitable[None]]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


@dataclass
class MailServer:
    """An aiosmtpd server the test can stop, restart and script."""

    port: int
    host: str = "127.0.0.1"
    received: list[Received] = field(default_factory=list)
    #: address -> reply for RCPT TO (e.g. "550 5.1.1 no such user"); None accepts.
    rcpt_reply: Callable[[str], str | None] = lambda _address: None
    #: awaited with the recipient after the message is stored, before "250".
    after_store: Hook | None = None
    #: awaited with the recipient when RCPT TO arrives, before any reply.
    on_rcpt: Hook | None = None
    rcpt_attempts: list[str] = field(default_factory=list)
    #: recipient -> reply for DATA (e.g. "451 4.3.0 try later"); None stores the message.
    data_reply: Callable[[str], str | None] = lambda _address: None
    data_attempts: list[str] = field(default_factory=list)
    #: extra aiosmtpd.smtp.SMTP arguments (STARTTLS, AUTH) and implicit TLS.
    smtp_options: dict[str, Any] = field(default_factory=dict)
    tls: ssl.SSLContext | None = None
    _server: asyncio.AbstractServer | None = None
    _sessions: list[SMTP] = field(default_factory=list)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def protocol() -> SMTP:
            session = SMTP(self, hostname="test-smtp", **self.smtp_options)
            self._sessions.append(session)
            return session

        self._server = await loop.create_server(protocol, self.host, self.port, ssl=self.tls)

    async def stop(self) -> None:
        """Stop listening and cut every open connection: the relay is down."""
        if self._server is not None:
            self._server.close()
            for session in self._sessions:
                transport = session.transport
                if isinstance(transport, asyncio.Transport):
                    transport.abort()
            self._sessions.clear()
            await self._server.wait_closed()
            self._server = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.rcpt_attempts.append(address)
        if self.on_rcpt is not None:
            await self.on_rcpt(address)
        reply = self.rcpt_reply(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_attempts.append(envelope.rcpt_tos[0])
        refusal = self.data_reply(envelope.rcpt_tos[0])
        if refusal is not None:
            return refusal  # not stored: the relay did not take the message
        raw = bytes(envelope.original_content)
        message = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw, message))
        if self.after_store is not None:
            await self.after_store(envelope.rcpt_tos[0])
        return "250 OK queued"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]


def refusing(times: dict[str, int], reply: str) -> Callable[[str], str | None]:
    """A reply hook: ``reply`` to each address its number of ``times``, then accept."""
    left = dict(times)

    def answer(address: str) -> str | None:
        if left.get(address, 0) > 0:
            left[address] -= 1
            return reply
        return None

    return answer


@pytest.fixture
async def smtp() -> AsyncIterator[MailServer]:
    server = MailServer(port=free_port())
    await server.start()
    yield server
    await server.stop()


async def settled(redis: Redis) -> bool:
    """Every published event delivered to the group and acknowledged."""
    try:
        groups = await redis.xinfo_groups(TRANSFER_EVENTS)
    except Exception:
        return False
    info = next((g for g in groups if g["name"] == GROUP), None)
    if info is None or int(info["pending"]) != 0:
        return False
    last: Any = await redis.xrevrange(TRANSFER_EVENTS, count=1)
    return not last or info["last-delivered-id"] == last[0][0]


def settings_for(redis_url: str, smtp: MailServer, /, **overrides: Any) -> NotifierSettings:
    """Fast-moving settings: short blocks, short backoff, unique consumer."""
    base = NotifierSettings(
        redis_url=redis_url,
        http=HttpSettings(port=0),
        streams=StreamSettings(block_ms=50, claim_idle_ms=2_000, max_deliveries=5),
        smtp=SmtpSettings(
            host=smtp.host, port=smtp.port, sender="Vellet <no-reply@vellet.test>", timeout_s=3
        ),
        retry=RetrySettings(base_ms=20, max_ms=200, attempts=4),
        consumer_name=f"test-{uuid.uuid4().hex[:8]}",
        keys=key_settings(None, ("wallet",)),
    )
    return replace(base, **overrides)


@dataclass
class Running:
    app: web.Application
    site: Site
    settings: NotifierSettings

    async def metric(self, name: str, **labels: str) -> float:
        return await scrape(self.site.url, name, **labels)


@pytest.fixture
async def notifiers(
    redis_url: str, smtp: MailServer
) -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    started: list[Site] = []

    async def launch(**overrides: Any) -> Running:
        settings = settings_for(redis_url, smtp, **overrides)
        app = create_app(settings)
        site = await start("notifier", app, settings.http)
        started.append(site)
        return Running(app, site, settings)

    yield launch
    for site in reversed(started):
        await site.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = connect(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def process_env(redis_url: str, smtp: MailServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VELLET_")}
    env.update(
        VELLET_REDIS_URL=redis_url,
        VELLET_NOTIFIER_PORT=str(free_port()),
        VELLET_SMTP_HOST=smtp.host,
        VELLET_SMTP_PORT=str(smtp.port),
        VELLET_SMTP_FROM="Vellet <no-reply@vellet.test>",
        VELLET_SMTP_TIMEOUT="3",
        VELLET_CONSUMER_NAME=f"proc-{uuid.uuid4().hex[:8]}",
        VELLET_STREAM_BLOCK_MS="50",
        VELLET_STREAM_CLAIM_IDLE_MS="60000",
        VELLET_NOTIFIER_RETRY_BASE_MS="20",
        VELLET_NOTIFIER_RETRY_MAX_MS="200",
    )
    env.update(key_env(None, ("wallet",)))
    return env


@pytest.fixture
async def fleet(tmp_path: Path, process_env: dict[str, str]) -> AsyncIterator[Fleet]:
    processes = Fleet(process_env, tmp_path / "notifier.log")
    yield processes
    for proc in processes.started:
        await proc.kill()


async def dead_letters(redis: Redis, stream: str = DEAD_RECIPIENTS) -> list[dict[str, str]]:
    """The entries of a dead-letter stream, oldest first."""
    entries: Any = await redis.xrange(stream)
    return [dict(fields) for _, fields in entries]


async def ledger_state(redis: Redis, event_id: str, party: str) -> dict[str, Any]:
    raw: Any = await redis.hget(PREFIX + event_id, party)
    return dict(json.loads(raw)) if raw else {}
