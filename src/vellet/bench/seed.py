"""A ledger with many users and a long past, written by set-based SQL (not the API).

Going through the API would take hours for ten million transfers; the data
only has to look like what the API leaves behind, and the ledger invariant
(checked by every benchmark at the end) proves it does. In one transaction:

* ``users`` wallets (account numbers ``7...``), each funded by one posted
  deposit from the settlement account, large enough for every send below;
* ``past`` posted P2P transfers between them, one cent each, spread over
  the last 300 days (older than anything the load writes);
* ``history_len`` posted transfers *to* one chosen user, so that user has
  a history more than a hundred pages deep;
* every touched balance moved by exactly the net of the entries written
  here (entry ids only grow, so "written here" is ``id > before``).

Transfer ids are ``md5(salt || kind || n)::uuid``: unique per run, no
``pgcrypto`` needed, and cheap for PostgreSQL to make by the million.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import asyncpg

from vellet.wallet.database import SETTLEMENT


@dataclass(frozen=True)
class Seeded:
    users: int
    past: int
    history_len: int
    seconds: float


_USERS = """
INSERT INTO users (account_number, name, email, currency, password_hash)
SELECT (700000000000 + g)::text, 'Past ' || g, 'past' || g || '@example.test', 'INR', '-'
FROM generate_series(1, $1::bigint) g
"""
_ACCOUNTS = """
INSERT INTO ledger_accounts (user_id, currency)
SELECT id, 'INR' FROM users WHERE account_number LIKE '7%' AND length(account_number) = 12
"""
_SEEDED = """
CREATE TEMP TABLE seeded ON COMMIT DROP AS
SELECT (row_number() OVER (ORDER BY u.id) - 1)::bigint AS n, u.id AS user_id,
       a.id AS account_id, u.account_number
FROM users u JOIN ledger_accounts a ON a.user_id = u.id AND a.currency = 'INR'
WHERE u.account_number LIKE '7%' AND length(u.account_number) = 12;
CREATE UNIQUE INDEX ON seeded (n);
ANALYZE seeded;
"""
# $1 salt, $2 funding per user, $3 settlement account
_FUNDING = """
WITH t AS (
    INSERT INTO transfers (id, kind, state, amount, currency, debit_account_id,
                           credit_account_id, to_user_id, from_account, to_account, note,
                           created_at, updated_at)
    SELECT md5($1 || 'fund' || s.n)::uuid, 'deposit', 'posted', $2, 'INR', $3, s.account_id,
           s.user_id, s.account_number, s.account_number, 'seed funding',
           now() - interval '301 days', now() - interval '301 days'
    FROM seeded s
    RETURNING id, debit_account_id, credit_account_id, amount, created_at
)
INSERT INTO entries (transfer_id, account_id, side, amount, created_at)
SELECT id, debit_account_id, 'debit', amount, created_at FROM t
UNION ALL
SELECT id, credit_account_id, 'credit', amount, created_at FROM t
"""
# $1 salt, $2 how many, $3 users; the recipient is never the sender.
_PAST = """
WITH pairs AS (
    SELECT k, k % $3 AS from_n,
           (k % $3 + 1 + (k / $3 + k * 7) % ($3 - 1)) % $3 AS to_n
    FROM generate_series(0, $2::bigint - 1) k
), t AS (
    INSERT INTO transfers (id, kind, state, amount, currency, debit_account_id,
                           credit_account_id, from_user_id, to_user_id, from_account,
                           to_account, created_at, updated_at)
    SELECT md5($1 || 'past' || p.k)::uuid, 'p2p', 'posted', 1, 'INR', f.account_id,
           r.account_id, f.user_id, r.user_id, f.account_number, r.account_number,
           now() - interval '300 days' + p.k * interval '1 ms',
           now() - interval '300 days' + p.k * interval '1 ms'
    FROM pairs p JOIN seeded f ON f.n = p.from_n JOIN seeded r ON r.n = p.to_n
    RETURNING id, debit_account_id, credit_account_id, amount, created_at
)
INSERT INTO entries (transfer_id, account_id, side, amount, created_at)
SELECT id, debit_account_id, 'debit', amount, created_at FROM t
UNION ALL
SELECT id, credit_account_id, 'credit', amount, created_at FROM t
"""
# $1 salt, $2 how many, $3 users, $4 the recipient's user id
_HISTORY = """
WITH me AS (
    SELECT u.id AS user_id, a.id AS account_id, u.account_number
    FROM users u JOIN ledger_accounts a ON a.user_id = u.id AND a.currency = 'INR'
    WHERE u.id = $4
), t AS (
    INSERT INTO transfers (id, kind, state, amount, currency, debit_account_id,
                           credit_account_id, from_user_id, to_user_id, from_account,
                           to_account, created_at, updated_at)
    SELECT md5($1 || 'hist' || k)::uuid, 'p2p', 'posted', 1, 'INR', f.account_id,
           me.account_id, f.user_id, me.user_id, f.account_number, me.account_number,
           now() - interval '1 day' + k * interval '1 ms',
           now() - interval '1 day' + k * interval '1 ms'
    FROM generate_series(0, $2::bigint - 1) k JOIN seeded f ON f.n = k % $3 CROSS JOIN me
    RETURNING id, debit_account_id, credit_account_id, amount, created_at
)
INSERT INTO entries (transfer_id, account_id, side, amount, created_at)
SELECT id, debit_account_id, 'debit', amount, created_at FROM t
UNION ALL
SELECT id, credit_account_id, 'credit', amount, created_at FROM t
"""
_BALANCES = """
UPDATE ledger_accounts a SET balance = a.balance + d.net, updated_at = now()
FROM (SELECT account_id, sum(CASE side WHEN 'credit' THEN amount ELSE -amount END) AS net
      FROM entries WHERE id > $1 GROUP BY account_id) d
WHERE d.account_id = a.id
"""


async def _without_row_checks(conn: asyncpg.Connection) -> None:
    """Skip the foreign-key triggers for this transaction, when we may.

    Every id written here comes from a join with the rows it refers to, so
    the checks cannot fail; made row by row they were most of the seeding
    time (about ten lookups per transfer and its entries). Only a superuser
    may (the embedded server's); anyone else seeds with the checks on.
    ``replica`` also silences other triggers, and the ledger has one only on
    UPDATE and DELETE of entries, which seeding never does.
    """
    if await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
        await conn.execute("SET LOCAL session_replication_role = replica")


async def seed(dsn: str, users: int, past: int, history_user_id: int,
               history_len: int = 2100) -> Seeded:  # fmt: skip
    """Write the data (see the module's docstring); the wallet may be running, idle."""
    if users < 2:
        raise ValueError("at least two users to send between")
    started = time.perf_counter()
    salt = secrets.token_hex(4)
    # Every user sends at most ceil(past/users) + ceil(history/users) cents.
    funding = -(-past // users) + -(-history_len // users) + 1
    conn = await asyncpg.connect(dsn, command_timeout=None)
    try:
        async with conn.transaction():
            await _without_row_checks(conn)
            before = int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM entries"))
            settlement = await conn.fetchval(
                "SELECT id FROM ledger_accounts WHERE system_code = $1 AND currency = 'INR'",
                SETTLEMENT,
            )
            if settlement is None:
                raise LookupError("no INR settlement account: set up the active users first")
            await conn.execute(_USERS, users)
            await conn.execute(_ACCOUNTS)
            await conn.execute(_SEEDED)
            await conn.execute(_FUNDING, salt, funding, settlement)
            if past:
                await conn.execute(_PAST, salt, past, users)
            if history_len:
                await conn.execute(_HISTORY, salt, history_len, users, history_user_id)
            await conn.execute(_BALANCES, before)
        # A ledger that grew to this size over months has been vacuumed as it
        # grew. Freshly bulk-written rows have not: left alone, autovacuum would
        # set their hint bits and visibility map during the measured load (on
        # the same two cores), measuring the bulk write instead of the size.
        await conn.execute("VACUUM (ANALYZE)")
        # Write the new pages out now, not during the measured load.
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    return Seeded(users, past, history_len, time.perf_counter() - started)
