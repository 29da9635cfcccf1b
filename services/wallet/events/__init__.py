"""Transfer events for the notifier: the transactional outbox and its relay.

Owns ``payload`` (outbox rows -> event payloads, pure), ``store`` (claim and
forget outbox rows) and ``relay`` (committed events -> ``vellet:events:transfers``).

Surface for other capabilities: ``relay`` (its app key, to wake it after a
commit). Must never publish an event whose transfer did not commit: the
money-moving transactions write the rows, the relay only forwards them.
"""
