"""Two-phase details: the crash window, idempotent answers, the reconciler's lock, metrics."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from tests.support.bank import RunningBank, start_bank
from tests.support.keys import key_env
from tests.support.tcp_proxy import lossy_proxy_to
from tests.support.waiting import eventually
from tests.wallet.banking.helpers import compare_books, move, start_flow_wallet
from tests.wallet.stack import RunningWallet, WalletClient, registered
from vellet.bench.faults import LossyProxy
from vellet.common import metrics, streams
from vellet.wallet.auth import store as auth_store
from vellet.wallet.banking import rules as banking_rules
from vellet.wallet.banking import store as banking_store
from vellet.wallet.banking.reconciler import reconcile
from vellet.wallet.banking.service import FLOW
from vellet.wallet.settings import BankFlowSettings, WalletSettings
from vellet.wallet.state import POOL, REDIS


@pytest.fixture
async def proxy(bank: RunningBank) -> AsyncIterator[LossyProxy]:
    running = await lossy_proxy_to(bank.url)
    yield running
    await running.stop()


@pytest.fixture
async def lossy_wallet(wallet_dsn: str, redis_url: str,
                       proxy: LossyProxy) -> AsyncIterator[RunningWallet]:  # fmt: skip
    running = await start_flow_wallet(wallet_dsn, redis_url, proxy.url)
    yield running
    await running.stop()


async def state_of(client: WalletClient, transfer_id: str) -> str:
    return str((await client.call("GET", f"/api/v1/transfers/{transfer_id}")).body["state"])


async def test_a_wallet_that_dies_right_after_commit_still_gets_the_request_to_the_bank(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession, wallet_dsn: str,
    bank_db: str,
) -> None:  # fmt: skip
    alice = await registered(bank, wallet, http)
    assert (await move(alice, "deposit", "100.00")).status == 201
    pool = wallet.app[POOL]
    user = await auth_store.user_by_account(pool, alice.account_number or "")
    assert user is not None
    # Exactly what a request does before it calls the bank -- and then nothing:
    # the process "died" between COMMIT and the call.
    req = banking_rules.parse_bank_transfer(
        {"kind": "withdrawal", "amount": "40.00", "currency": "INR"}
    )
    opened = await banking_store.open_transfer(
        pool, user.id, "crash-1", req, transfer_id=uuid.uuid4(), expires_at=None, grace=0.5
    )
    assert opened.transfer is not None
    tid = str(opened.transfer["id"])
    assert (await alice.me()).body["balance"] == {
        "currency": "INR", "available": "60.00", "pending": "40.00"}  # fmt: skip
    retry = await move(alice, "withdrawal", "40.00", key="crash-1")
    assert (retry.status, retry.body["code"]) == (409, "idempotency_in_flight")

    # Once due, the deferred request is published; the bank executes it; it posts.
    await eventually(lambda: state_of(alice, tid), lambda s: s == "posted")
    replay = await move(alice, "withdrawal", "40.00", key="crash-1")
    assert (replay.status, replay.body["id"], replay.body["state"]) == (202, tid, "queued")
    assert replay.headers.get("Idempotent-Replayed") == "true"
    books = await compare_books(wallet_dsn, bank_db)
    assert books.ok, books.problems


async def test_a_key_replays_its_first_answer_byte_for_byte_even_after_settling(
    bank: RunningBank, proxy: LossyProxy, lossy_wallet: RunningWallet,
    http: aiohttp.ClientSession,
) -> None:  # fmt: skip
    alice = await registered(bank, lossy_wallet, http)
    proxy.drop_responses = True
    first = await move(alice, "deposit", "10.00", key="dep-1")
    assert (first.status, first.body["state"]) == (202, "queued")
    await eventually(lambda: state_of(alice, first.body["id"]), lambda s: s == "posted")
    again = await move(alice, "deposit", "10.00", key="dep-1")
    assert (again.status, again.body) == (202, first.body)
    other = await move(alice, "deposit", "10.01", key="dep-1")
    assert (other.status, other.body["code"]) == (422, "idempotency_mismatch")
    kind = await move(alice, "withdrawal", "10.00", key="dep-1")
    assert (kind.status, kind.body["code"]) == (422, "idempotency_mismatch")


async def test_the_same_key_while_the_bank_is_being_asked_is_409(
    bank: RunningBank, proxy: LossyProxy, lossy_wallet: RunningWallet,
    http: aiohttp.ClientSession,
) -> None:  # fmt: skip
    alice = await registered(bank, lossy_wallet, http)
    proxy.drop_responses = True  # the direct call now waits its full timeout
    first = asyncio.create_task(move(alice, "deposit", "3.00", key="slow"))
    await asyncio.sleep(0.3)
    second = await move(alice, "deposit", "3.00", key="slow")
    assert (second.status, second.body["code"]) == (409, "idempotency_in_flight")
    assert (await first).status == 202


async def test_one_reconciler_at_a_time_and_nothing_to_do_is_idle(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession, wallet_dsn: str,
) -> None:  # fmt: skip
    flow = wallet.app[FLOW]
    assert (await reconcile(flow.pool, flow.bank.ready, 0.0)).outcome == "idle"
    alice = await registered(bank, wallet, http)
    pool = wallet.app[POOL]
    user = await auth_store.user_by_account(pool, alice.account_number or "")
    assert user is not None
    req = banking_rules.parse_bank_transfer(
        {"kind": "deposit", "amount": "1.00", "currency": "INR"}
    )
    await banking_store.open_transfer(pool, user.id, "stuck-1", req, transfer_id=uuid.uuid4(),
                                 expires_at=None, grace=3600)  # fmt: skip
    holder = await asyncpg.connect(wallet_dsn)
    try:
        async with holder.transaction():  # another replica is reconciling right now
            await holder.execute("SELECT pg_advisory_xact_lock($1)", 0x7E11E7_02)
            busy = await reconcile(flow.pool, flow.bank.ready, 0.0)
            assert (busy.outcome, busy.stuck, busy.redriven) == ("busy", 1, 0)
    finally:
        await holder.close()
    done = await reconcile(flow.pool, flow.bank.ready, 0.0)
    assert (done.outcome, done.redriven, done.bank_available) == ("redriven", 1, True)
    again = await reconcile(flow.pool, flow.bank.ready, 60.0)  # just re-driven: not stuck
    assert again.outcome == "idle"


def sample(wallet: RunningWallet, name: str, **labels: str) -> float | None:
    return wallet.app[metrics.REGISTRY_KEY].get_sample_value(name, labels)


async def test_metrics_show_queues_bank_availability_states_and_settle_time(
    bank_db: str, wallet_dsn: str, redis_url: str, http: aiohttp.ClientSession,
) -> None:  # fmt: skip
    bank = await start_bank(bank_db, redis_url, consume=False)  # requests wait in the queue
    proxy = await lossy_proxy_to(bank.url)
    wallet = await start_flow_wallet(wallet_dsn, redis_url, proxy.url)
    try:
        await streams.ensure_group(wallet.app[REDIS], streams.BANK_REQUESTS, "bank")
        alice = await registered(bank, wallet, http)
        assert (await move(alice, "deposit", "50.00")).status == 201
        proxy.drop_responses = True
        for _ in range(4):  # three lost answers open the breaker; the fourth is not tried
            assert (await move(alice, "withdrawal", "1.00")).status == 202
        # A queued request is published by the relay just after its commit, not
        # before the 202: wait for all four before reading the depth.
        redis = wallet.app[REDIS]
        await eventually(lambda: redis.xlen(streams.BANK_REQUESTS), lambda n: n >= 4)
        async with http.get(f"{wallet.internal_url}/metrics") as resp:
            assert resp.status == 200
        requests, results = streams.BANK_REQUESTS, streams.BANK_RESULTS
        assert sample(wallet, "vellet_queue_depth", stream=requests, group="bank") == 4
        assert sample(wallet, "vellet_stream_lag", stream=requests, group="bank") == 4
        assert sample(wallet, "vellet_queue_depth", stream=results, group="wallet") == 0
        assert sample(wallet, "vellet_bank_available") == 0
        assert sample(wallet, "vellet_bank_breaker_state", state="open") == 1
        assert sample(wallet, "vellet_bank_direct_calls_total", outcome="skipped") == 1
        assert sample(wallet, "vellet_transfers_unfinished", kind="withdrawal",
                      state="queued") == 4  # fmt: skip
        assert sample(wallet, "vellet_transfers_unfinished", kind="deposit", state="queued") == 0
        assert sample(wallet, "vellet_bank_transfers_finished_total", kind="deposit",
                      state="posted", path="direct") == 1  # fmt: skip
        assert sample(wallet, "vellet_transfer_settle_seconds_count", kind="deposit",
                      state="posted") == 1  # fmt: skip
        assert sample(wallet, "vellet_transfers_total", kind="withdrawal", outcome="queued") == 4
    finally:
        await wallet.stop()
        await proxy.stop()
        await bank.stop()


def test_the_settings_read_their_variables() -> None:
    env = {"VELLET_WALLET_DATABASE_URL": "postgresql://x/w", "VELLET_REDIS_URL": "redis://x",
           "VELLET_BANK_URL": "http://bank", **key_env("wallet", ("bank", "operator")),
           "VELLET_SESSION_SECRET": "s" * 32, "VELLET_WALLET_RECONCILER": "false",
           "VELLET_STUCK_AFTER": "120", "VELLET_RECONCILE_INTERVAL": "5",
           "VELLET_BANK_TRANSFER_TIMEOUT": "0.5", "VELLET_BANK_BREAKER_FAILURES": "2",
           "VELLET_BANK_BREAKER_RESET": "9", "VELLET_WALLET_CONSUMER": "no",
           "VELLET_CONSUMER_NAME": "pod-7", "VELLET_BANK_RELAY_INTERVAL": "0.5",
           **key_env("wallet", ("bank", "operator"))}  # fmt: skip
    flows_settings = WalletSettings.from_env(env).flows
    assert flows_settings == BankFlowSettings(
        transfer_timeout=0.5, breaker_failures=2, breaker_reset=9.0, consume_results=False,
        consumer_name="pod-7", reconciler=False, reconcile_interval=5.0, stuck_after=120.0,
        relay_interval=0.5,
    )  # fmt: skip
    defaults = WalletSettings.from_env({k: v for k, v in env.items() if "SECRET" in k
                                        or k.endswith(("_URL", "_KEY"))}).flows  # fmt: skip
    assert (defaults.reconciler, defaults.consume_results, defaults.stuck_after) == (
        True, True, 60.0)  # fmt: skip
