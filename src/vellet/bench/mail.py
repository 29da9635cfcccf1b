"""``vellet bench mail``: one notifier replica's mails/s into the local SMTP sink.

The reference is the sink's raw acceptance rate on this machine: one plain
SMTP client sending the same mails over one connection, one transaction
after another (what a notifier replica does), with no Redis and no ledger.
The notifier then runs as its own process, ``--events`` P2P events (two
mails each) are published at once, and the clock runs until the sink has
kept every mail. The check at the end: every (event, party) mail arrived
exactly once (by its Message-ID, derived from the pair), none was
dead-lettered, and every event was acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.parser
import logging
import mailbox
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosmtplib

from vellet.bench import profiled
from vellet.bench.faults import ServiceProcess
from vellet.bench.memory import Peaks, cpu_seconds
from vellet.bench.report import Row, exit_code
from vellet.common import keyfiles, redis_acl, streams
from vellet.common.commands import command
from vellet.common.embedded import EmbeddedRedis, free_port
from vellet.common.errors import ConfigError
from vellet.common.events import TransferEvent
from vellet.notifier.compose import Composer, message_id, sender_address
from vellet.notifier.domain import parse_event
from vellet.notifier.settings import NotifierSettings
from vellet.notifier.sink import MailSink, start_sink
from vellet.notifier.store import DEAD_RECIPIENTS

#: The issue's goal for one replica.
GOAL_PER_S = 500.0
SENDER = "Vellet <no-reply@vellet.test>"


def add_parser(sub: Any) -> None:
    parser = command(
        sub,
        "mail",
        "one notifier replica's mails/s into the local SMTP sink",
        "vellet bench mail --events 2000",
        description="Publish P2P events (two mails each) for one notifier process and time "
        "until the local SMTP sink has kept every mail, against the sink's raw acceptance "
        "rate; check every mail arrived exactly once.",
    )
    parser.add_argument("--events", type=int, default=2000, help="P2P events (2 mails each)")
    parser.add_argument("--senders", type=int, default=NotifierSettings.senders,
                        help="VELLET_NOTIFIER_SENDERS of the notifier")  # fmt: skip
    parser.add_argument("--profile", metavar="FILE", default=None,
                        help="run the notifier under cProfile, write the stats to FILE and "
                        "print milliseconds per mail by stage")  # fmt: skip
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    if args.events < 1 or args.senders < 1:
        raise ConfigError("--events and --senders must be >= 1")
    quiet_sink()
    with tempfile.TemporaryDirectory(prefix="vellet-bench-") as tmp:
        Path(tmp).chmod(0o755)
        profile = str(Path(args.profile).resolve()) if args.profile else None
        result = asyncio.run(measure(Path(tmp), args.events, args.senders, profile))
    if args.profile:
        stages = profiled.MAIL_STAGES
        print(profiled.summary(args.profile, result.mails, stages, "mail", "notifier"))
    return exit_code(result.rows())


def run_rows(root: Path, count: int, senders: int) -> list[Row]:
    return asyncio.run(measure(root, count, senders)).rows()


@dataclass
class MailResult:
    mails: int = 0
    seconds: float = 0.0
    reference_per_s: float = 0.0
    connections: int = 0
    missing: int = 0
    duplicated: int = 0
    dead: int = 0
    unacknowledged: int = 0
    memory: Peaks = field(default_factory=Peaks)
    #: CPU seconds of the notifier, of this process (the sink and the
    #: publisher) and of Redis while the mails went out: on two cores they
    #: share, so this says which of them the figure is waiting for. Each
    #: process alone (the notifier and Redis are this process's children).
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def per_s(self) -> float:
        return self.mails / self.seconds if self.seconds else 0.0

    def rows(self) -> list[Row]:
        ok = not (self.missing or self.duplicated or self.dead or self.unacknowledged)
        ratio = self.per_s / self.reference_per_s if self.reference_per_s else 0.0
        return [
            Row("mail throughput, 1 notifier replica",
                f"{self.per_s:,.0f} mails/s = {ratio:.2f} x sink raw "
                f"{self.reference_per_s:,.0f}/s ({self.mails} mails, "
                f"{self.connections} SMTP connection(s))",
                f">= {GOAL_PER_S:.0f} mails/s", self.per_s >= GOAL_PER_S),
            Row("mails exactly once",
                f"missing {self.missing}, duplicated {self.duplicated}, dead {self.dead}, "
                f"unacknowledged {self.unacknowledged}", "all 0", ok, check=True),
            Row("CPU per mail, mail burst", self.cpu_per_mail(), "-", None),
            *self.memory.rows("mail burst"),
        ]  # fmt: skip

    def cpu_per_mail(self) -> str:
        if not self.mails:
            return "-"
        return ", ".join(f"{name} {seconds * 1000 / self.mails:.2f} ms"
                         for name, seconds in self.cpu.items())  # fmt: skip


def events(count: int) -> list[TransferEvent]:
    def party(role: str, n: int) -> Any:
        return {"role": role, "account_number": f"{100_000_000_000 + n}",
                "name": f"Bench {n}", "email": f"bench{n}@example.test",
                "available_balance": "100.00"}  # fmt: skip

    return [
        {"event_id": str(uuid.uuid4()), "transfer_id": str(uuid.uuid4()), "kind": "p2p",
         "state": "posted", "amount": "1.00", "currency": "INR", "note": "bench",
         "failure_reason": None, "occurred_at": "2026-12-01T10:00:00Z",
         "parties": [party("sender", 2 * i), party("recipient", 2 * i + 1)]}
        for i in range(count)
    ]  # fmt: skip


def expected_ids(published: list[TransferEvent]) -> set[str]:
    sender = sender_address(SENDER)
    ids = set()
    for raw in published:
        event = parse_event(dict(raw))
        ids |= {message_id(event, party, sender) for party in event.parties}
    return ids


async def reference_rate(sink: MailSink, sample: list[TransferEvent]) -> float:
    """Mails/s the sink takes from one bare client over one connection."""
    sender = sender_address(SENDER)
    composer = Composer(sender)
    bodies = []
    for raw in sample:
        event = parse_event(dict(raw))
        bodies += [(p.email, composer.message(event, p)) for p in event.parties]
    smtp = aiosmtplib.SMTP(hostname=sink.host, port=sink.smtp_port, start_tls=False)
    await smtp.connect()
    started = time.perf_counter()
    for rcpt, body in bodies:
        await smtp.sendmail(sender.addr_spec, [rcpt], body)
    seconds = time.perf_counter() - started
    await smtp.quit()
    return len(bodies) / seconds


async def measure(
    root: Path, count: int, senders: int = NotifierSettings.senders, profile: str | None = None
) -> MailResult:
    """The whole benchmark in ``root`` (a fresh directory, world-readable: see p2p)."""
    redis = EmbeddedRedis(root / "redis", persistent=False,
                          passwords=redis_acl.generate_passwords()).start()  # fmt: skip
    result = MailResult()
    try:
        with mail_directory(root) as kept:
            ref_sink = await start_sink(kept / "reference-mail")
            try:
                result.reference_per_s = await reference_rate(ref_sink, events(min(count, 500)))
            finally:
                await ref_sink.stop()
            sink = await start_sink(kept / "mail")
            try:
                await _notify(root, redis, sink, count, senders, result, profile)
            finally:
                await sink.stop()
    finally:
        redis.stop()
    return result


def mail_directory(root: Path) -> contextlib.AbstractContextManager[Path]:
    """Where the sinks keep their mail: in memory (``/dev/shm``) when there is one.

    Creating a file on this machine's ext4 cost 0.1-0.3 ms of CPU, on tmpfs
    0.01 ms: the figure is about the notifier, not about how fast the disk
    under the development sink creates files.
    """
    shm = Path("/dev/shm")  # noqa: S108 - a private directory made inside it
    if shm.is_dir() and os.access(shm, os.W_OK):
        return _temporary(shm)
    return contextlib.nullcontext(root)


@contextlib.contextmanager
def _temporary(parent: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="vellet-bench-mail-", dir=parent) as tmp:
        yield Path(tmp)


async def _notify(
    root: Path,
    redis: EmbeddedRedis,
    sink: MailSink,
    count: int,
    senders: int,
    result: MailResult,
    profile: str | None = None,
) -> None:
    port = free_port()
    # One generated set: the bench publishes as the wallet with its private
    # key, and the notifier trusts that same wallet's public key.
    signers = keyfiles.generate_all()
    env = {
        **keyfiles.pem_env(signers, "notifier"),
        "VELLET_REDIS_URL": redis.url_for("notifier"), "VELLET_NOTIFIER_PORT": str(port),
        "VELLET_SMTP_HOST": sink.host, "VELLET_SMTP_PORT": str(sink.smtp_port),
        "VELLET_SMTP_FROM": SENDER, "VELLET_CONSUMER_NAME": "bench-notifier",
        "VELLET_STREAM_BLOCK_MS": "100", "VELLET_LOG_LEVEL": "WARNING",
        "VELLET_NOTIFIER_SENDERS": str(senders),
    }  # fmt: skip
    notifier = ServiceProcess("notifier", clean_env() | env, port, root / "notifier.log")
    if profile:
        notifier.runner = ("-m", "vellet.bench.profiled", profile)
    await notifier.start()
    client = streams.connect(redis.url_for("wallet"))  # the wallet publishes events
    try:
        published = events(count)
        want = expected_ids(published)
        pids = {"notifier": notifier.pid, "sink (bench process)": os.getpid(), "redis": redis.pid}
        result.cpu = {name: -cpu_seconds(pid) for name, pid in pids.items()}
        started = time.perf_counter()
        for at in range(0, count, 500):
            await streams.publish_many(client, streams.TRANSFER_EVENTS, published[at : at + 500],
                                       signers["wallet"])  # fmt: skip
        deadline = started + 60 + count / 50
        while sink.mails < len(want) and time.perf_counter() < deadline:
            result.memory.sample("notifier", notifier.pid)
            await asyncio.sleep(0.02)
        result.seconds = time.perf_counter() - started
        result.cpu = {name: cpu_seconds(pid) + result.cpu[name] for name, pid in pids.items()}
        result.memory.sample("notifier", notifier.pid)
        result.mails = sink.mails
        result.connections = sink.connections
    finally:
        await client.aclose()
    admin = streams.connect(redis.url)
    try:
        result.unacknowledged = await _unacknowledged(admin, count)
        result.dead = int(await admin.xlen(DEAD_RECIPIENTS))
    finally:
        # In a thread: the sink runs on this loop and must answer the goodbye.
        await asyncio.to_thread(notifier.stop)
        await admin.aclose()
    got = message_ids(sink.maildir)
    result.duplicated = len(got) - len(set(got))
    result.missing = len(want - set(got))


def message_ids(maildir: Path) -> list[str]:
    """The Message-ID of every kept mail (headers only: the bodies are not checked here)."""
    kept = mailbox.Maildir(maildir, create=False)
    parser = email.parser.BytesHeaderParser()
    ids = []
    for key in kept.keys():  # noqa: SIM118 - a Maildir is not a dict
        with kept.get_file(key) as fh:
            ids.append(str(parser.parse(fh)["Message-ID"]).strip())  # type: ignore[arg-type]
    return ids


async def _unacknowledged(client: streams.Redis, count: int) -> int:
    """Events not yet acknowledged by the notifier group (waits a little for the last)."""
    for _ in range(100):
        groups: Any = await client.xinfo_groups(streams.TRANSFER_EVENTS)
        info = next((g for g in groups if g["name"] == "notifier"), None)
        if (
            info is not None
            and int(info["pending"]) == 0
            and int(info.get("entries-read") or count) >= count
        ):
            return 0
        await asyncio.sleep(0.1)
    return int(info["pending"]) if info is not None else count


def quiet_sink() -> None:
    """aiosmtpd logs every SMTP command at INFO: thousands of lines per run."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("VELLET_")}
