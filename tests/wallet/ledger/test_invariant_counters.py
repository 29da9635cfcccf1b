"""Every counter of the ledger invariant can fail: one forged violation each.

``audit.INVARIANT_SQL`` is the verdict the whole suite, the benchmark, the
drill and ``vellet wallet audit`` trust. A counter that always read 0 would
turn each of those checks into a pass, so each counter gets a forgery that
trips it and nothing else: the test pins the exact violations, and fails if
that counter stops counting.

The forgeries are written straight into this test's own database, the way a
bug in a money path would leave them (a row inserted past the rules, a
balance changed without its entries). Where the schema itself would refuse
the forgery (the overdraft CHECK) the test drops that constraint in its own
database first. ``unbalanced_currencies`` follows from the other six (when
every balance equals its entries and every transfer balances in its own
currency, each currency sums to zero), so it can only fire together with
one of them; its test pins both.
"""

from __future__ import annotations

import uuid

import pytest

from tests.wallet.ledger_helpers import make_user
from vellet.common.db import Pool
from vellet.wallet.auth import store as auth_store
from vellet.wallet.database import SETTLEMENT
from vellet.wallet.ledger import audit

Entry = tuple[int, str, int]  # (ledger account id, side, amount)


async def wallet_of(pool: Pool, user: auth_store.User) -> int:
    return int(
        await pool.fetchval(
            "SELECT id FROM ledger_accounts WHERE user_id = $1 AND currency = $2",
            user.id,
            user.currency,
        )
    )


async def settlement_of(pool: Pool, currency: str = "INR") -> int:
    return int(
        await pool.fetchval(
            "SELECT id FROM ledger_accounts WHERE system_code = $1 AND currency = $2",
            SETTLEMENT,
            currency,
        )
    )


async def forge(
    pool: Pool,
    *,
    kind: str,
    state: str,
    amount: int,
    debit: int,
    credit: int,
    entries: list[Entry],
    users: tuple[int | None, int | None] = (None, None),
) -> uuid.UUID:
    """A transfer row with exactly ``entries``, each balance moved by its entries.

    Balances follow the entries on purpose: only the counter under test may
    see something wrong, ``drifted_accounts`` must not.
    """
    tid = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO transfers (id, kind, state, amount, currency, debit_account_id, "
            "credit_account_id, from_user_id, to_user_id, failure_reason) "
            "VALUES ($1, $2, $3, $4, 'INR', $5, $6, $7, $8, $9)",
            tid, kind, state, amount, debit, credit, users[0], users[1],
            "forged" if state in ("voided", "failed") else None,
        )  # fmt: skip
        for account, side, value in entries:
            await conn.execute(
                "INSERT INTO entries (transfer_id, account_id, side, amount) "
                "VALUES ($1, $2, $3, $4)",
                tid, account, side, value,
            )  # fmt: skip
            await conn.execute(
                "UPDATE ledger_accounts SET balance = balance + $2 WHERE id = $1",
                account, value if side == "credit" else -value,
            )  # fmt: skip
    return tid


async def violations(pool: Pool) -> dict[str, int]:
    return (await audit.check_invariants(pool)).violations()


async def test_a_clean_ledger_has_no_violation(pool: Pool) -> None:
    """The baseline every forgery below starts from (and the forge helper's own check)."""
    alice = await make_user(pool, funds=10_000)
    bob = await make_user(pool)
    a, b = await wallet_of(pool, alice), await wallet_of(pool, bob)
    await forge(
        pool, kind="p2p", state="posted", amount=300, debit=a, credit=b,
        entries=[(a, "debit", 300), (b, "credit", 300)], users=(alice.id, bob.id),
    )  # fmt: skip
    assert await violations(pool) == {}


async def test_unbalanced_transfers_counts_entries_whose_sides_do_not_cancel(
    pool: Pool,
) -> None:
    # Two deposits, each with two entries on its own legs for its own amount,
    # but one has two debits and the other two credits: every balance matches
    # its entries and the currency still sums to zero; only the per-transfer
    # sums are wrong.
    alice = await make_user(pool)
    s, a = await settlement_of(pool), await wallet_of(pool, alice)
    for side in ("debit", "credit"):
        await forge(
            pool, kind="deposit", state="posted", amount=500, debit=s, credit=a,
            entries=[(s if side == "debit" else a, side, 500)] * 2, users=(None, alice.id),
        )  # fmt: skip
    assert await violations(pool) == {"unbalanced_transfers": 2}


async def test_overdrawn_accounts_counts_a_user_below_zero(pool: Pool) -> None:
    # The CHECK behind every conditional debit would refuse this; a bug that
    # skipped both must still be seen by the audit. Dropped in this test's
    # own database only.
    name = await pool.fetchval(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'ledger_accounts'::regclass "
        "AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%balance - pending%'"
    )
    assert name is not None
    await pool.execute(f'ALTER TABLE ledger_accounts DROP CONSTRAINT "{name}"')
    alice = await make_user(pool, funds=100)
    bob = await make_user(pool)
    a, b = await wallet_of(pool, alice), await wallet_of(pool, bob)
    await forge(
        pool, kind="p2p", state="posted", amount=101, debit=a, credit=b,
        entries=[(a, "debit", 101), (b, "credit", 101)], users=(alice.id, bob.id),
    )  # fmt: skip
    assert await violations(pool) == {"overdrawn_accounts": 1}


@pytest.mark.parametrize("case", ["posted_without_entries", "posted_twice", "failed_with_entries"])
async def test_misentered_transfers_counts_entries_out_of_step_with_the_state(
    pool: Pool, case: str
) -> None:
    alice = await make_user(pool)
    s, a = await settlement_of(pool), await wallet_of(pool, alice)
    legs = [(s, "debit", 700), (a, "credit", 700)]
    state, entries = {
        "posted_without_entries": ("posted", []),
        "posted_twice": ("posted", legs * 2),
        # A refused deposit that moved the money anyway.
        "failed_with_entries": ("failed", legs),
    }[case]
    await forge(
        pool, kind="deposit", state=state, amount=700, debit=s, credit=a,
        entries=entries, users=(None, alice.id),
    )  # fmt: skip
    assert await violations(pool) == {"misentered_transfers": 1}


@pytest.mark.parametrize(("case", "count"), [("wrong_account", 1), ("wrong_amount", 2)])
async def test_misposted_entries_counts_entries_off_their_transfers_legs(
    pool: Pool, case: str, count: int
) -> None:
    alice = await make_user(pool, funds=1_000)
    bob = await make_user(pool)
    carol = await make_user(pool)
    a, b, c = await wallet_of(pool, alice), await wallet_of(pool, bob), await wallet_of(pool, carol)
    entries = {
        # Alice paid Bob; the money reached Carol.
        "wrong_account": [(a, "debit", 250), (c, "credit", 250)],
        # Alice paid Bob 250; the entries (balanced, right legs) say 249.
        "wrong_amount": [(a, "debit", 249), (b, "credit", 249)],
    }[case]
    await forge(
        pool, kind="p2p", state="posted", amount=250, debit=a, credit=b,
        entries=entries, users=(alice.id, bob.id),
    )  # fmt: skip
    assert await violations(pool) == {"misposted_entries": count}


@pytest.mark.parametrize(
    "case", ["reservation_without_withdrawal", "withdrawal_without_reservation"]
)
async def test_drifted_reservations_counts_pending_out_of_step_with_withdrawals(
    pool: Pool, case: str
) -> None:
    alice = await make_user(pool, funds=1_000)
    s, a = await settlement_of(pool), await wallet_of(pool, alice)
    if case == "reservation_without_withdrawal":
        await pool.execute("UPDATE ledger_accounts SET pending = pending + 300 WHERE id = $1", a)
    else:
        await forge(
            pool, kind="withdrawal", state="queued", amount=300, debit=a, credit=s,
            entries=[], users=(alice.id, None),
        )  # fmt: skip
    assert await violations(pool) == {"drifted_reservations": 1}


async def test_drifted_accounts_counts_balances_moved_without_entries(pool: Pool) -> None:
    # Money moved from Bob to Alice with no transfer: the currency still sums
    # to zero, but neither balance is what its entries say.
    alice = await make_user(pool)
    bob = await make_user(pool, funds=100)
    await pool.execute(
        "UPDATE ledger_accounts SET balance = balance + CASE user_id WHEN $1 THEN 40 ELSE -40 END "
        "WHERE user_id IN ($1, $2)",
        alice.id,
        bob.id,
    )
    assert await violations(pool) == {"drifted_accounts": 2}


async def test_unbalanced_currencies_counts_money_made_on_a_system_account(pool: Pool) -> None:
    # Implied by the others (see the module docstring), so never alone: money
    # minted on the settlement account also leaves it off its entries.
    await make_user(pool, funds=100)
    await make_user(pool, currency="EUR", funds=100)
    await pool.execute(
        "UPDATE ledger_accounts SET balance = balance - 1 WHERE id = $1", await settlement_of(pool)
    )
    assert await violations(pool) == {"unbalanced_currencies": 1, "drifted_accounts": 1}
