"""History: the caller's transfers, newest first, keyset pages that stay stable."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.support.bank import RunningBank
from tests.wallet.stack import RunningWallet, WalletClient, fund, registered


@pytest.fixture
async def pair(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> tuple[WalletClient, WalletClient]:
    alice = await registered(bank, wallet, http)
    bob = await registered(bank, wallet, http)
    await fund(wallet, alice, 1_000_00)
    await fund(wallet, bob, 1_000_00)
    return alice, bob


async def pages(client: WalletClient, limit: int, between: Any = None) -> list[dict[str, Any]]:
    """Every item, page by page; ``between`` runs after each page (to race inserts)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        reply = await client.call("GET", "/api/v1/transfers" + query)
        assert reply.status == 200, reply
        assert len(reply.body["items"]) <= limit
        items += reply.body["items"]
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return items
        if between is not None:
            await between()


def newest_first(items: list[dict[str, Any]]) -> bool:
    keys = [(i["created_at"], i["id"]) for i in items]
    return keys == sorted(keys, reverse=True)


async def test_history_lists_both_directions_newest_first(
    pair: tuple[WalletClient, WalletClient],
) -> None:
    alice, bob = pair
    sent = []
    for i in range(25):
        a, b = (alice, bob) if i % 2 else (bob, alice)
        reply = await a.send(b.account_number or "", f"{i + 1}.00")
        sent.append(reply.body["id"])

    items = await pages(alice, 7)

    deposits = [i for i in items if i["kind"] == "deposit"]
    p2p = [i["id"] for i in items if i["kind"] == "p2p"]
    assert len(deposits) == 1  # alice's own funding; bob's is not hers
    assert sorted(p2p) == sorted(sent)
    assert newest_first(items)
    assert p2p[0] == sent[-1]  # created last, listed first


async def test_pages_neither_repeat_nor_skip_while_transfers_keep_arriving(
    pair: tuple[WalletClient, WalletClient],
) -> None:
    alice, bob = pair
    before = [(await alice.send(bob.account_number or "", "1.00")).body["id"] for _ in range(20)]
    arrived: list[str] = []

    async def more() -> None:  # three new transfers land between every two page reads
        replies = await asyncio.gather(
            *(bob.send(alice.account_number or "", "0.01") for _ in range(3))
        )
        arrived.extend(r.body["id"] for r in replies)

    items = await pages(alice, 4, between=more)

    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)), "a page repeated a transfer"
    assert set(before) <= set(ids), "a page skipped a transfer"
    assert not set(arrived) & set(ids), "rows newer than the first page leaked into later ones"
    assert newest_first(items)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("cursor=bm90LWEtY3Vyc29y", "invalid_cursor"),
        ("cursor=%%%", "invalid_cursor"),
        ("cursor=", "invalid_cursor"),
        ("cursor=MTIzOm5vdC1hLXV1aWQ", "invalid_cursor"),
        ("limit=0", "invalid_limit"),
        ("limit=101", "invalid_limit"),
        ("limit=ten", "invalid_limit"),
    ],
)
async def test_bad_cursor_or_limit_is_400(
    pair: tuple[WalletClient, WalletClient], query: str, code: str
) -> None:
    reply = await pair[0].call("GET", f"/api/v1/transfers?{query}")
    assert (reply.status, reply.body["code"]) == (400, code)


async def test_history_needs_a_session(wallet: RunningWallet, http: aiohttp.ClientSession) -> None:
    reply = await WalletClient(http, wallet.url).call("GET", "/api/v1/transfers")
    assert reply.status == 401
