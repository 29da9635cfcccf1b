"""Each service's Redis user may do its own work and nothing else (a real Redis 7).

The attacks are the review's: anyone holding the notifier's credentials (or
the wallet's) tries to write the bank's streams. Each must answer NOPERM;
without the ACL (``passwords=None``) every one of them would succeed. The
second half runs each service's own Redis code as its own user and checks
Redis logged no denial, so the ACL is not only tight but also enough.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from redis.exceptions import AuthenticationError, NoPermissionError

from tests.support.keys import TEST_KEYS, key_env
from vellet.bank.cache import AccountCache, CacheMetrics
from vellet.bank.domain import AccountView
from vellet.bank.settings import CacheSettings
from vellet.common import redis_acl, streams
from vellet.common.embedded import EmbeddedRedis
from vellet.common.settings import StreamSettings
from vellet.notifier import store
from vellet.wallet.auth.limits import LoginLimiter
from vellet.wallet.settings import LoginLimits
from vellet.wallet.web import hub

REQUESTS, RESULTS, EVENTS = streams.BANK_REQUESTS, streams.BANK_RESULTS, streams.TRANSFER_EVENTS

WALLET, BANK = TEST_KEYS["wallet"], TEST_KEYS["bank"]


@pytest.fixture(scope="module")
def acl_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    root = tmp_path_factory.mktemp("acl-redis")
    server = EmbeddedRedis(root, persistent=False, passwords=redis_acl.generate_passwords())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def users(acl_redis: EmbeddedRedis) -> AsyncIterator[dict[str, aioredis.Redis]]:
    """A client per user (``admin`` too), on an emptied Redis with an empty ACL LOG."""
    clients = {"admin": streams.connect(acl_redis.url)}
    clients |= {user: streams.connect(acl_redis.url_for(user)) for user in redis_acl.SERVICES}
    await clients["admin"].flushall()
    await clients["admin"].execute_command("ACL", "LOG", "RESET")
    try:
        yield clients
    finally:
        for client in clients.values():
            await client.aclose()


def test_the_embedded_redis_has_selectors(acl_redis: EmbeddedRedis) -> None:
    """Redis 7: without selectors the wallet could XADD results (deploy/setup-debian.sh)."""
    assert acl_redis.selectors


async def test_nobody_gets_in_without_their_password(acl_redis: EmbeddedRedis) -> None:
    plain = f"redis://{acl_redis.host}:{acl_redis.port}/0"
    wrong = redis_acl.with_credentials(plain, "bank", "not-the-password")
    for url in (plain, wrong):
        client = aioredis.Redis.from_url(url)
        try:
            with pytest.raises(AuthenticationError):
                await client.xadd(REQUESTS, {"payload": "{}"})
        finally:
            await client.aclose()


FORBIDDEN = [
    # Nobody but the bank writes results; nobody but the wallet writes requests and events.
    ("notifier", "XADD", REQUESTS, "*", "payload", "{}"),
    ("notifier", "XADD", RESULTS, "*", "payload", "{}"),
    ("notifier", "XADD", EVENTS, "*", "payload", "{}"),
    ("wallet", "XADD", RESULTS, "*", "payload", "{}"),
    ("bank", "XADD", REQUESTS, "*", "payload", "{}"),
    ("bank", "XADD", EVENTS, "*", "payload", "{}"),
    # Nor may one drop, trim or rewind another's stream or group.
    ("wallet", "DEL", REQUESTS),
    ("wallet", "XTRIM", REQUESTS, "MAXLEN", "0"),
    ("bank", "XGROUP", "SETID", REQUESTS, "bank", "0"),
    ("notifier", "XGROUP", "CREATE", RESULTS, "notifier", "0", "MKSTREAM"),
    ("wallet", "XREADGROUP", "GROUP", "notifier", "w", "STREAMS", EVENTS, ">"),
    # Nor read or poison another's keys.
    ("notifier", "GET", "vellet:bank:cache:account:100000000001"),
    ("wallet", "SET", "vellet:bank:cache:account:100000000001", "{}"),
    ("bank", "DEL", "vellet:wallet:login-failures:account:100000000001"),
    ("bank", "HSET", "vellet:notifier:deliveries:x", "a", "b"),
    # Nor run the server's own commands.
    ("wallet", "FLUSHALL"),
    ("bank", "CONFIG", "SET", "appendonly", "no"),
    ("notifier", "KEYS", "*"),
    ("notifier", "ACL", "SETUSER", "notifier", "+@all", "~*"),
    ("bank", "EVAL", "return redis.call('XADD', KEYS[1], '*', 'a', 'b')", "1", REQUESTS),
]


@pytest.mark.parametrize(("user", "command"), [(c[0], c[1:]) for c in FORBIDDEN],
                         ids=[" ".join(c[:3]) for c in FORBIDDEN])  # fmt: skip
async def test_a_service_cannot_touch_what_is_not_its_own(
    users: dict[str, aioredis.Redis], user: str, command: tuple[str, ...]
) -> None:
    with pytest.raises(NoPermissionError):
        await users[user].execute_command(*command)
    assert await users["admin"].xlen(REQUESTS) == 0
    assert await users["admin"].xlen(RESULTS) == 0


def _settings() -> StreamSettings:
    # A message that failed once is claimed at once and, delivered a second time, dead.
    return StreamSettings(block_ms=10, claim_idle_ms=0, max_deliveries=1, batch_size=10)


async def _consume(redis: aioredis.Redis, stream: str, group: str, fail: set[str],
                   out: list[dict[str, Any]], producer: str) -> int:  # fmt: skip
    """One pass of a real consumer; payloads in ``fail`` fail, and end dead-lettered."""

    async def handle(fields: streams.Fields) -> None:
        payload = streams.payload_of(fields)
        if payload["id"] in fail:
            raise ValueError("poison")
        out.append(payload)

    metrics = streams.StreamMetrics(CollectorRegistry())
    consumer = streams.Consumer(
        redis, stream, group, f"{group}-1", handle, _settings(), metrics,
        trusted=(TEST_KEYS[producer].public(),),
    )  # fmt: skip
    await streams.ensure_group(redis, stream, group)
    await consumer.drain_own_pending()
    handled = await consumer.read_new()
    await consumer.claim_idle()
    await streams.refresh_depth(redis, metrics, stream)
    return handled


async def test_each_service_does_its_own_work_as_its_own_user(
    users: dict[str, aioredis.Redis],
) -> None:
    wallet, bank, notifier = users["wallet"], users["bank"], users["notifier"]
    admin = users["admin"]
    # The wallet queues requests and the bank consumes them, answering on results.
    await streams.publish_many(wallet, REQUESTS, [{"id": "r1"}, {"id": "r2"}], WALLET)
    requests: list[dict[str, Any]] = []
    assert await _consume(bank, REQUESTS, "bank", {"r2"}, requests, "wallet") == 2
    await streams.publish(bank, RESULTS, {"id": "r1", "status": "succeeded"}, BANK)
    await streams.publish(bank, RESULTS, {"id": "bad"}, BANK)
    results: list[dict[str, Any]] = []
    assert await _consume(wallet, RESULTS, "wallet", {"bad"}, results, "bank") == 2
    for stream in (REQUESTS, RESULTS):  # the wallet's /metrics reads both queues
        await streams.refresh_depth(wallet, streams.StreamMetrics(CollectorRegistry()), stream)
    # The wallet's outbox publishes events; the notifier consumes them; the live channel reads.
    await streams.publish_many(wallet, EVENTS, [{"id": "e1"}, {"id": "e2"}], WALLET)
    events: list[dict[str, Any]] = []
    assert await _consume(notifier, EVENTS, "notifier", {"e2"}, events, "wallet") == 2
    await notifier.xadd(streams.dead_letter_stream(EVENTS), {"reason": "malformed"})
    live = hub.LiveHub(wallet, (WALLET.public(),))
    await live.end_session("fingerprint", 60)
    assert await live.revoked("fingerprint")
    assert await wallet.xread(dict.fromkeys(hub._STREAMS, "0-0"), count=10)
    assert await wallet.xrevrange(EVENTS, count=1)
    # The wallet's login limits, both scripts and pipelines.
    limiter = LoginLimiter(wallet, LoginLimits())
    attempt = await limiter.attempt("100000000001", "127.0.0.1")
    await limiter.succeeded(attempt)
    assert await admin.get(attempt.keys[0]) == "0"
    # The bank's account cache: load, share through Redis, invalidate.
    view = AccountView("100000000001", "Asha", "asha@example.test", "INR", "active")

    async def load(number: str) -> AccountView | None:
        return view

    registry = CollectorRegistry()
    metrics = CacheMetrics(registry)
    caches = [AccountCache(bank, load, CacheSettings(), metrics) for _ in "ab"]
    assert await caches[0].get(view.account_number) == view
    assert await caches[1].get(view.account_number) == view  # from Redis this time
    await caches[0].invalidate(view.account_number)
    assert await admin.get("vellet:bank:cache:gen:100000000001") == "1"
    sample = {"cache": "bank_account_redis", "result": "hit"}
    assert registry.get_sample_value("vellet_cache_requests_total", sample) == 1
    # The notifier's delivery ledger: leases, dead letters, pruning.
    ledger = store.Ledger(notifier, "owner-1", "notifier-1", 30_000)
    assert (await ledger.acquire("e1", "sender:1")).outcome == "acquired"
    assert await ledger.dead("e1", "sender:1", "refused", {"to": "x@example.test"})
    await ledger.complete("e1")
    assert await ledger.finished("e1") == {"sender:1"}
    assert await store.prune(notifier, -60_000) == 1
    assert await notifier.xlen(store.DEAD_RECIPIENTS) == 1

    # Everything arrived where it should, and Redis refused nothing on the way.
    assert [r["id"] for r in requests] == ["r1"]
    assert [r["id"] for r in results] == ["r1"]
    assert [e["id"] for e in events] == ["e1"]
    for stream in (REQUESTS, RESULTS, EVENTS):
        assert await admin.xlen(streams.dead_letter_stream(stream)) >= 1, stream
    assert await admin.execute_command("ACL", "LOG") == []


def test_the_acl_file_holds_no_password(acl_redis: EmbeddedRedis) -> None:
    text = (acl_redis.data_dir / "users.acl").read_text()
    assert acl_redis.passwords
    assert all(password not in text for password in acl_redis.passwords.values())
    assert (acl_redis.data_dir / "users.acl").stat().st_mode & 0o077 == 0


def test_the_chart_has_the_same_rules() -> None:
    chart = Path(__file__).resolve().parents[2] / "charts/vellet/files/redis-acl.yaml"
    assert chart.read_text() == redis_acl.chart_rules(), (
        "run: python -m vellet.common.redis_acl > charts/vellet/files/redis-acl.yaml"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://wallet:s3cret@host:6379/0", "redis://wallet:***@host:6379/0"),
        ("rediss://:s3cret@host/0", "rediss://:***@host/0"),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("redis://wallet:p%40ss@host:6379/0", "redis://wallet:***@host:6379/0"),
    ],
)
def test_urls_are_printed_without_their_password(url: str, shown: str) -> None:
    assert redis_acl.redacted(url) == shown


def test_settings_never_show_the_redis_password() -> None:
    from vellet.bank.settings import BankSettings
    from vellet.notifier.settings import NotifierSettings

    url = redis_acl.with_credentials("redis://127.0.0.1:6379/0", "bank", "pa55word-xyz")
    env = {"VELLET_REDIS_URL": url, "VELLET_BANK_DATABASE_URL": "postgresql://db/bank",
           "VELLET_BANK_CODE_KEY": "k" * 40,
           **key_env("bank", ("wallet", "bank-admin"))}  # fmt: skip
    for settings in (BankSettings.from_env(env), NotifierSettings.from_env(env)):
        assert settings.redis_url == url
        assert "pa55word-xyz" not in repr(settings)


async def test_setuser_commands_make_the_same_users_on_a_redis_of_your_own(
    users: dict[str, aioredis.Redis],
    acl_redis: EmbeddedRedis,
) -> None:
    """What the README tells an operator to pipe into redis-cli, run on a real server."""
    admin = users["admin"]
    environ = {"VELLET_REDIS_NOTIFIER_PASSWORD": "another-notifier-pw"}
    [line] = redis_acl.main(["redis_acl", "setuser"], environ).splitlines()
    assert "another-notifier-pw" not in line
    try:
        await admin.execute_command(*line.split())
        again = aioredis.Redis.from_url(
            redis_acl.with_credentials(acl_redis.url, "notifier", "another-notifier-pw")
        )
        try:
            with pytest.raises(NoPermissionError):
                await again.xadd(REQUESTS, {"payload": "{}"})
            assert await again.xadd(streams.dead_letter_stream(EVENTS), {"a": "b"})
        finally:
            await again.aclose()
    finally:  # the fixture's own notifier password again
        assert acl_redis.passwords
        restore = redis_acl.setuser_commands({"notifier": acl_redis.passwords["notifier"]})
        await admin.execute_command(*restore.split())
