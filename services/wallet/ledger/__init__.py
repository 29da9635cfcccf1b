"""P2P money and the books.

Owns the rules of a P2P transfer, the group-commit ``batcher`` (transfers
that arrive together post in one transaction), the ledger SQL (``store``:
P2P batches, funding, reads of balances and history) and the invariant
(``audit``: the one query that proves the books balance).

Surface for other capabilities: ``rules``, ``batcher``, ``store``. Must
never call the bank or Redis, and never read-check-write a balance: debits
are conditional updates, with a CHECK constraint behind them.
"""
