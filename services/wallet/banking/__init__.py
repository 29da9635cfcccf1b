"""Deposits and withdrawals: money between the bank and the wallets.

Two-phase transfers (reserve, then post or void, exactly once): ``service``
calls the bank directly behind a ``breaker`` and queues the request when it
cannot; ``store`` (two-phase SQL) and ``queue_store`` (the request outbox,
stuck transfers) change a deposit's or withdrawal's state; ``client`` calls
the bank; ``relay`` sends committed requests to ``vellet:bank:requests``;
``consumer`` applies ``vellet:bank:results``; ``reconciler`` re-drives what
the streams lost; ``metrics``; ``wiring`` starts it all inside the app.

Surface for other capabilities: ``rules``, ``service``, ``client``. Must
never treat Redis as the truth (the database is), nor post a bank result
that does not match its transfer.
"""
