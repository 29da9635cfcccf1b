"""``vellet up``: the whole stack on one machine, with one command.

PostgreSQL and Redis come from pip-installed packages unless their URLs are
set; data lives in ``.vellet/`` (or ``VELLET_HOME``) so a restart keeps
users, balances and queued transfers. Secrets that are not set are
generated once and kept in ``.vellet/secrets.env`` (mode 0600), so sessions
survive restarts too; so are the service key pairs, in ``.vellet/keys/``
(``<signer>.key`` mode 0600). Every component runs in this one process on one
event loop, and each is configured with only its own private key and the
public keys it trusts (``*_FILE`` variables naming those files), exactly as
separate processes would be; ``bank-admin.key`` is given to none of them and
is there for ``vellet bank token --admin``. Ctrl-C stops the apps
gracefully, then the servers this command started (by PID, nothing else).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import secrets
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from vellet.bank.admin import migrate as migrate_bank
from vellet.bank.admin import seed as seed_bank
from vellet.bank.app import create_app as create_bank
from vellet.bank.domain import demo_accounts
from vellet.bank.mailer import SUBJECT as CODE_SUBJECT
from vellet.bank.mailer import find_code
from vellet.bank.settings import BankSettings
from vellet.common import keyfiles
from vellet.common.commands import command
from vellet.common.embedded import (
    EmbeddedPostgres,
    EmbeddedPrometheus,
    EmbeddedRedis,
    prometheus_binary,
)
from vellet.common.errors import ConfigError
from vellet.common.redis_acl import ADMIN_USER, SERVICES, redacted
from vellet.common.settings import Env
from vellet.common.web import Site, start
from vellet.notifier.app import create_app as create_notifier
from vellet.notifier.settings import NotifierSettings
from vellet.notifier.sink import MailSink, start_sink, take_mail
from vellet.wallet import database
from vellet.wallet.app import create_app as create_wallet
from vellet.wallet.auth.demo import sign_up_demo_users
from vellet.wallet.settings import WalletSettings

_GENERATED_SECRETS = ("VELLET_SESSION_SECRET", "VELLET_BANK_CODE_KEY")
#: The embedded Redis's passwords, one per ACL user, kept with the other secrets.
_REDIS_PASSWORDS = {user: f"VELLET_REDIS_{user.upper()}_PASSWORD" for user in
                    (ADMIN_USER, *SERVICES)}  # fmt: skip
#: What ``secrets.env`` keeps; anything else there (an older release's shared
#: service secret) is dropped.
_KEPT_SECRETS = (*_GENERATED_SECRETS, *_REDIS_PASSWORDS.values())


def register(sub: Any) -> None:
    parser = command(
        sub,
        "up",
        "run the whole stack locally on embedded PostgreSQL and Redis",
        "vellet up",
        "vellet up --data-dir /tmp/vellet --accounts 20",
        description="Run the whole stack on one machine: embedded PostgreSQL and Redis, the "
        "bank with seeded demo accounts, the wallet, the notifier and a mail sink you can "
        "read in a browser. It prints where everything listens; Ctrl-C stops it all.",
    )
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where data lives (default: $VELLET_HOME or ./.vellet)")  # fmt: skip
    parser.add_argument(
        "--accounts",
        type=int,
        default=10,
        help="demo bank accounts to seed and sign up (default 10)",
    )
    parser.add_argument("--unregistered", type=int, default=2,
                        help="more bank accounts, left for you to sign up (default 2)")  # fmt: skip
    parser.add_argument("--prometheus", action="store_true",
                        help="also run Prometheus (Debian's binary, when installed) scraping "
                        "every component; or set VELLET_PROMETHEUS=1")  # fmt: skip
    parser.set_defaults(func=run)


@dataclass
class Stack:
    """What `vellet up` started, so it can say where things are and stop them."""

    data_dir: Path
    env: dict[str, str]
    servers: list[EmbeddedPostgres | EmbeddedRedis | EmbeddedPrometheus] = field(
        default_factory=list
    )
    sites: list[Site] = field(default_factory=list)
    sinks: list[MailSink] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Bank accounts seeded after the demo users and not signed up: a newcomer's to try.
    unregistered: int = 2
    #: Printed first: what a newcomer opens, and how to log in there.
    dashboard: str = ""
    #: Each service's own Redis URL (its ACL user) when Redis is embedded; else all
    #: services share ``VELLET_REDIS_URL``.
    redis_urls: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def keys_dir(self) -> Path:
        """Every signer's key pair, generated on the first run and kept."""
        return self.data_dir / "keys"

    def env_for(self, service: str) -> dict[str, str]:
        """The environment one component is configured from: only its own keys
        and, when Redis is embedded, its own Redis user."""
        env = {k: v for k, v in self.env.items() if not keyfiles.is_key_variable(k)}
        if url := self.redis_urls.get(service):
            env["VELLET_REDIS_URL"] = url
        return env | keyfiles.file_env(self.keys_dir, service)


def run(args: argparse.Namespace) -> int:
    data_dir = (args.data_dir or Path(os.environ.get("VELLET_HOME", ".vellet"))).resolve()
    stack = Stack(data_dir, dict(os.environ), unregistered=args.unregistered)
    try:
        start_servers(stack)
        prometheus = args.prometheus or Env(stack.env).flag("VELLET_PROMETHEUS", False)
        asyncio.run(_serve(stack, args.accounts, prometheus=prometheus))
    finally:
        for server in reversed(stack.servers):
            server.stop()
    print("vellet: stopped", flush=True)  # noqa: T201
    return 0


def start_servers(stack: Stack) -> None:
    stack.data_dir.mkdir(parents=True, exist_ok=True)
    stack.data_dir.chmod(0o755)  # PostgreSQL runs as 'nobody' when we are root
    _load_or_generate_secrets(stack)
    keyfiles.ensure(stack.keys_dir)
    admin_key = stack.keys_dir / keyfiles.private_file("bank-admin")
    stack.notes.append(f"keys        {stack.keys_dir}  (admin tokens: VELLET_BANK_ADMIN_KEY_FILE="
                       f"{admin_key} vellet bank token --admin)")  # fmt: skip
    env = stack.env
    if not (env.get("VELLET_BANK_DATABASE_URL") and env.get("VELLET_WALLET_DATABASE_URL")):
        pg = EmbeddedPostgres(stack.data_dir / "postgres").start()
        stack.servers.append(pg)
        env.setdefault("VELLET_BANK_DATABASE_URL", pg.url("vellet_bank"))
        env.setdefault("VELLET_WALLET_DATABASE_URL", pg.url("vellet_wallet"))
        stack.notes.append(f"PostgreSQL  {pg.admin_url}  (pid {pg.pid}, data in {pg.data_dir})")
    if not env.get("VELLET_REDIS_URL"):
        _start_redis(stack)


def _start_redis(stack: Stack) -> None:
    """Redis with one ACL user per service; the admin user stays with this process."""
    _load_or_generate_secrets(stack, tuple(_REDIS_PASSWORDS.values()))
    passwords = {user: stack.env[name] for user, name in _REDIS_PASSWORDS.items()}
    redis = EmbeddedRedis(stack.data_dir / "redis", passwords=passwords).start()
    stack.servers.append(redis)
    stack.redis_urls = {service: redis.url_for(service) for service in SERVICES}
    stack.notes.append(f"Redis       {redacted(redis.url)}  (pid {redis.pid}, AOF in "
                       f"{redis.data_dir}; users {', '.join(SERVICES)}, passwords in "
                       f"{stack.data_dir / 'secrets.env'})")  # fmt: skip
    if not redis.selectors:
        stack.notes.append("Redis ACL   Redis < 7 has no selectors: a service may also "
                           "write the streams it reads (install redis-server 7)")  # fmt: skip


def _load_or_generate_secrets(stack: Stack, names: tuple[str, ...] = _GENERATED_SECRETS) -> None:
    path = stack.data_dir / "secrets.env"
    kept: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, value = line.partition("=")
            kept[name.strip()] = value.strip()
    kept = {name: value for name, value in kept.items() if name in _KEPT_SECRETS}
    for name in names:
        if not stack.env.get(name):
            kept.setdefault(name, secrets.token_urlsafe(48))
            stack.env[name] = kept[name]
    path.write_text("".join(f"{k}={v}\n" for k, v in kept.items()))
    path.chmod(0o600)


async def _ensure_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    conn = await asyncpg.connect(admin)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _start_sink(stack: Stack, accounts: int) -> None:
    if stack.env.get("VELLET_SMTP_HOST") and stack.env.get("VELLET_BANK_SMTP_HOST"):
        return  # both send to real relays: nothing to keep locally
    # Mail with no relay configured goes to a local sink whose mail a person can read.
    env = Env(stack.env)
    sink = await start_sink(
        stack.data_dir / "mail",
        smtp_port=env.integer("VELLET_SINK_SMTP_PORT", 1025, maximum=65535),
        http_port=env.integer("VELLET_SINK_HTTP_PORT", 8025, maximum=65535),
    )
    stack.sinks.append(sink)
    stack.notes.append(sink.describe())


def _to_sink(stack: Stack, smtp: Any, configured: str) -> Any:
    """``smtp`` pointed at the local sink, unless ``configured`` names a relay."""
    if stack.env.get(configured) or not stack.sinks:
        return smtp
    sink = stack.sinks[0]
    return dataclasses.replace(smtp, host=sink.host, port=sink.smtp_port, security="none")


async def _start_bank(stack: Stack, accounts: int) -> None:
    settings = BankSettings.from_env(stack.env_for("bank"))
    settings = dataclasses.replace(
        settings, smtp=_to_sink(stack, settings.smtp, "VELLET_BANK_SMTP_HOST")
    )
    if any(isinstance(s, EmbeddedPostgres) for s in stack.servers):
        await _ensure_database(settings.database_url)
    await migrate_bank(settings.database_url)
    created = await seed_bank(settings, accounts + stack.unregistered)
    site = await start("bank", create_bank(settings), settings.http)
    stack.sites.append(site)
    stack.env.setdefault("VELLET_BANK_URL", site.url)
    total = accounts + stack.unregistered
    stack.notes.append(f"bank        {site.url}  ({total} demo accounts, {created} new)")
    stack.notes.append(f"  internal  {site.internal_url}  (admin routes, /metrics)")


async def _start_wallet(stack: Stack, accounts: int) -> None:
    # Every demo sign-up comes from this machine's one address; one window must fit them.
    # The local stack serves plain HTTP on loopback, where a Secure cookie would never
    # be sent back by an HTTP client: opt out here, explicitly (the default is secure).
    stack.env.setdefault("VELLET_COOKIE_SECURE", "false")
    stack.env.setdefault("VELLET_SIGNUP_MAX_PER_ADDRESS", str(max(50, accounts)))
    settings = WalletSettings.from_env(stack.env_for("wallet"))
    if any(isinstance(s, EmbeddedPostgres) for s in stack.servers):
        await _ensure_database(settings.database_url)
    await database.migrate(settings.database_url)
    site = await start("wallet", create_wallet(settings), settings.http)
    stack.sites.append(site)
    stack.notes.append(
        f"wallet      {site.url}  (API under /api/v1, OpenAPI at /api/v1/openapi.json)"
    )
    stack.notes.append(f"  internal  {site.internal_url}  (/internal/v1, /metrics)")
    emails = {a.account_number: a.email for a in demo_accounts(accounts)}
    if stack.env.get("VELLET_BANK_SMTP_HOST") or not stack.sinks:
        stack.notes.append("demo logins none: the bank mails sign-up codes to a real relay")
        return
    sink = stack.sinks[0]

    async def read_code(number: str) -> str:
        # The trusted local path: the code really went out by SMTP; we read it in the sink.
        message = await take_mail(sink.maildir, emails[number], subject=CODE_SUBJECT)
        return find_code(message) or ""

    logins = await sign_up_demo_users(site.url, list(emails), read_code)
    free = [a.account_number for a in demo_accounts(accounts + stack.unregistered)[accounts:]]
    if free:
        stack.notes.append(f"sign up    {', '.join(free)}  (not registered: the code goes to "
                           "the mail sink)")  # fmt: skip
    if logins:
        first = logins[0]
        stack.dashboard = (f"Open the dashboard: {site.url}/  (log in with account "
                           f"{first.account_number}, password {first.password})")  # fmt: skip
    shown = ", ".join(f"{login.account_number} / {login.password}" for login in logins[:3])
    stack.notes.append(f"demo logins {shown}{', ...' if len(logins) > 3 else ''}"
                       "  (demo passwords: local use only)")  # fmt: skip


async def _start_notifier(stack: Stack, accounts: int) -> None:
    settings = NotifierSettings.from_env(stack.env_for("notifier"))
    settings = dataclasses.replace(
        settings, smtp=_to_sink(stack, settings.smtp, "VELLET_SMTP_HOST")
    )
    site = await start("notifier", create_notifier(settings), settings.http)
    stack.sites.append(site)
    stack.notes.append(f"notifier    {site.url}/metrics  (mail via {settings.smtp.host}:"
                       f"{settings.smtp.port})")  # fmt: skip


# Each component: (name, starter). Later components are appended as they land.
COMPONENTS: list[tuple[str, Callable[[Stack, int], Any]]] = [
    ("mail sink", _start_sink),
    ("bank", _start_bank),
    ("notifier", _start_notifier),
    ("wallet", _start_wallet),
]


def metrics_address(site: Site) -> str:
    """Where Prometheus scrapes a component: its internal port, if it has one."""
    scraped = site.internal or site
    return f"{scraped.host}:{scraped.port}"


#: The chart's alert rules, loaded when running from a checkout.
_RULES = Path(__file__).resolve().parents[2] / "charts/vellet/files/alerts/vellet-rules.yaml"


def _start_prometheus(stack: Stack) -> None:
    """Blocking (it waits for the port): run it in a thread."""
    env = Env(stack.env)
    if prometheus_binary() is None:
        stack.notes.append("Prometheus  not started: no prometheus binary on PATH "
                           "(apt-get install prometheus)")  # fmt: skip
        return
    server = EmbeddedPrometheus(
        stack.data_dir / "prometheus",
        {site.name: metrics_address(site) for site in stack.sites},
        interval=env.number("VELLET_PROMETHEUS_INTERVAL", 5.0, minimum=0.1),
        rule_files=[_RULES] if _RULES.is_file() else [],
        port=env.integer("VELLET_PROMETHEUS_PORT", 9090, maximum=65535),
    )
    try:
        server.start()
    except (OSError, ConfigError) as err:
        stack.notes.append(f"Prometheus  not started: {err}")
        return
    stack.servers.append(server)
    stack.notes.append(f"Prometheus  {server.url}  (pid {server.pid}, scraping "
                       f"{', '.join(site.name for site in stack.sites)}; alerts at "
                       f"{server.url}/alerts)")  # fmt: skip


async def _serve(stack: Stack, accounts: int, *, prometheus: bool = False) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        for _name, starter in COMPONENTS:
            await starter(stack, accounts)
        if prometheus:
            await asyncio.to_thread(_start_prometheus, stack)
        _print_summary(stack)
        await stop.wait()
        print("vellet: stopping...", flush=True)  # noqa: T201
    finally:
        for site in reversed(stack.sites):
            with contextlib.suppress(Exception):
                await site.stop()
        for sink in stack.sinks:
            with contextlib.suppress(Exception):
                await sink.stop()


def _print_summary(stack: Stack) -> None:
    first = [f"  {stack.dashboard}", ""] if stack.dashboard else []
    lines = ["", "Vellet is up.", *first, *[f"  {note}" for note in stack.notes],
             "", "Press Ctrl-C to stop.", "vellet: ready"]  # fmt: skip
    print("\n".join(lines), flush=True)  # noqa: T201
