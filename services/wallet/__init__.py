"""The wallet: users, their money, and the ledger that keeps it honest.

One folder per capability, each layered routes (thin HTTP) -> rules (pure)
-> store (SQL only); ``README.md`` beside this file draws the map.

* ``api/``      the HTTP surfaces: public ``/api/v1``, internal ``/internal/v1``, OpenAPI
* ``auth/``     who is calling: sign-up, login, sessions, passwords, rate limits
* ``ledger/``   P2P money and the books: rules, group commit, ledger SQL, the invariant
* ``banking/``  deposits and withdrawals with the bank: two-phase, queue, reconciler
* ``events/``   transfer events for the notifier: the outbox and its relay
* top level     ``app`` (create_app), ``cli``, ``settings``, ``state`` (shared app keys),
  ``wire`` (the shared wire format), ``database`` (migrations, pool, shared names)
"""
