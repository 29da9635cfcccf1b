"""The bank: Vellet's counterpart for money that enters and leaves wallets.

It owns bank accounts and bank transactions in its own database. Its one
money-moving function, :func:`vellet.bank.executor.execute`, is idempotent on
the wallet's transfer id and is called by both the HTTP API and the
request-stream consumer, so a request that arrives both ways (an HTTP
timeout followed by a queued retry) still moves money once.

Layers: ``handlers`` (HTTP, thin) and ``consumer`` (stream) → ``executor``
and ``cache`` (orchestration) → ``domain`` (pure rules) / ``store`` (SQL).
"""
