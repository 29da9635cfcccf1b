"""The wallet: users, their money, and the ledger that keeps it honest.

Users sign up with a bank account number the bank vouches for, log in to a
JWT session, and send each other money. Every movement is a double-entry
transfer in the wallet's own database, made exactly once per idempotency
key, and announced to the notifier through a transactional outbox.

Layers: ``handlers``/``auth_handlers`` (HTTP, thin) -> ``domain`` (pure
rules and rendering), ``sessions``, ``passwords``, ``ratelimit``,
``bank_client`` -> ``store`` and ``ledger`` (SQL only; the P2P transaction
itself is the ``wallet_p2p_batch`` function of migration 0004, fed by
``batcher``, which groups the transfers that arrive together; and
``ledger.INVARIANT_SQL`` is the one query that proves the books balance).
Events leave through a transactional outbox (``outbox``).

Deposits and withdrawals are two-phase transfers with the bank
(``bankflow``: direct call behind a circuit breaker, else the request
stream; ``twophase``/``twophase_queue`` SQL; ``bank_outbox`` relay,
``bank_stream`` result consumer, ``reconcile`` for stuck transfers; wired
by ``flow_app``). ``internal_handlers`` serve ``/internal/v1`` to services
holding a service token; an ingress must never route ``/internal``.
"""
