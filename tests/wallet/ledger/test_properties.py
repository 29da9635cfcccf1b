"""Property-based: random programs of sign-ups, transfers, retries and races.

Hypothesis draws a program (a list of steps); each step runs against the real
wallet and the real bank over HTTP, then the checks run: the ledger invariant
(one SQL query), every user's balance as the API shows it against a model,
and never a negative balance. Sequential transfers must have exactly the
outcome the model predicts; concurrent ones may post in any order, so the
model applies whichever posted and checks that no sender overspent.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.bank import RunningBank
from tests.wallet.stack import RunningWallet, WalletClient, fund, new_account_number, registered
from vellet.common.money import format_amount
from vellet.wallet.ledger import audit
from vellet.wallet.state import POOL


@dataclass(frozen=True)
class SignUp:
    funds: int  # paise deposited right after sign-up


@dataclass(frozen=True)
class Send:
    sender: int  # index into the users signed up so far (modulo)
    recipient: int  # index, or -1: an account number nobody has
    amount: int
    reuse_key: bool  # retry the previous key of this sender...
    same_payload: bool  # ...with the same request, or a different one


@dataclass(frozen=True)
class Race:
    sends: tuple[Send, ...]


Step = SignUp | Send | Race

amounts = st.integers(min_value=1, max_value=3_000)
sends = st.builds(
    Send,
    sender=st.integers(0, 7),
    recipient=st.integers(-1, 7),
    amount=amounts,
    reuse_key=st.booleans(),
    same_payload=st.booleans(),
)
steps = st.one_of(
    st.builds(SignUp, funds=st.integers(0, 5_000)),
    sends,
    sends,
    st.builds(Race, sends=st.lists(sends, min_size=2, max_size=12).map(tuple)),
)
programs = st.tuples(
    st.lists(st.builds(SignUp, funds=st.integers(0, 5_000)), min_size=2, max_size=2),
    st.lists(steps, min_size=1, max_size=10),
).map(lambda p: [*p[0], *p[1]])


@dataclass
class Model:
    clients: list[WalletClient] = field(default_factory=list)
    balances: list[int] = field(default_factory=list)
    # Per sender: the last (key, request body, first reply) it used.
    last: dict[int, tuple[str, dict[str, Any], Any]] = field(default_factory=dict)
    keys: int = 0

    def new_key(self) -> str:
        self.keys += 1
        return f"key-{self.keys}"


def body_of(model: Model, send: Send, sender: int) -> dict[str, Any]:
    if send.recipient < 0:
        to = new_account_number()
    else:
        to = model.clients[send.recipient % len(model.clients)].account_number or ""
    return {"kind": "p2p", "amount": format_amount(send.amount, "INR"), "currency": "INR",
            "to_account": to}  # fmt: skip


def predicted(model: Model, sender: int, body: dict[str, Any], amount: int) -> tuple[int, str]:
    numbers = [c.account_number for c in model.clients]
    if body["to_account"] not in numbers:
        return 404, "unknown_recipient"
    if numbers.index(body["to_account"]) == sender:
        return 422, "same_account"
    if amount > model.balances[sender]:
        return 422, "insufficient_funds"
    return 201, "posted"


def apply(model: Model, sender: int, body: dict[str, Any], amount: int) -> None:
    recipient = [c.account_number for c in model.clients].index(body["to_account"])
    model.balances[sender] -= amount
    model.balances[recipient] += amount


def plan(model: Model, send: Send) -> tuple[int, str, dict[str, Any], int]:
    """Which sender, key, body and amount a step uses (retries reuse a key)."""
    sender = send.sender % len(model.clients)
    previous = model.last.get(sender)
    if send.reuse_key and previous is not None:
        key, body, _ = previous
        if send.same_payload:
            return sender, key, body, int(body["amount"].replace(".", ""))
        changed = body | {"amount": format_amount(int(body["amount"].replace(".", "")) + 1, "INR")}
        return sender, key, changed, -1  # -1: a mismatch, moves nothing
    return sender, model.new_key(), body_of(model, send, sender), send.amount


async def post(client: WalletClient, key: str, body: dict[str, Any]) -> Any:
    return await client.call(
        "POST", "/api/v1/transfers", json=body, headers={"Idempotency-Key": key}
    )


async def run_send(model: Model, send: Send) -> None:
    sender, key, body, amount = plan(model, send)
    reply = await post(model.clients[sender], key, body)
    previous = model.last.get(sender)
    if amount == -1:
        assert (reply.status, reply.body["code"]) == (422, "idempotency_mismatch")
        return
    if previous is not None and previous[0] == key:
        assert (reply.status, reply.body) == (previous[2].status, previous[2].body), "not a replay"
        return
    status, outcome = predicted(model, sender, body, amount)
    assert reply.status == status, (reply.body, outcome)
    if status == 201:
        apply(model, sender, body, amount)
    else:
        assert reply.body["code"] == outcome
    model.last[sender] = (key, body, reply)


async def run_race(model: Model, race: Race) -> None:
    """Fresh keys, all at once: whatever posts must be affordable, and applied once."""
    planned = []
    for send in race.sends:
        sender = send.sender % len(model.clients)
        planned.append((sender, model.new_key(), body_of(model, send, sender), send.amount))
    replies = await asyncio.gather(*(post(model.clients[s], k, b) for s, k, b, _ in planned))
    for (sender, _, body, amount), reply in zip(planned, replies, strict=True):
        status, outcome = predicted(model, sender, body, 0)  # refusals that do not race
        if status != 201:
            assert (reply.status, reply.body["code"]) == (status, outcome)
        elif reply.status == 201:
            apply(model, sender, body, amount)
        else:
            assert (reply.status, reply.body["code"]) == (422, "insufficient_funds")
    assert min(model.balances) >= 0


async def check(model: Model, wallet: RunningWallet) -> None:
    report = await audit.check_invariants(wallet.app[POOL])
    assert report.ok, report.violations()
    for client, expected in zip(model.clients, model.balances, strict=True):
        me = await client.me()
        assert me.body["balance"]["available"] == format_amount(expected, "INR")


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(program=programs)
async def test_random_programs_keep_every_invariant(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession, program: list[Step]
) -> None:
    model = Model()  # fresh users per example; the ledger invariant is global
    for step in program:
        if isinstance(step, SignUp):
            client = await registered(bank, wallet, http)
            if step.funds:
                await fund(wallet, client, step.funds)
            model.clients.append(client)
            model.balances.append(step.funds)
        elif isinstance(step, Send):
            await run_send(model, step)
        else:
            await run_race(model, step)
        await check(model, wallet)
