"""The notifier: one e-mail per party for every finished transfer.

It consumes ``vellet:events:transfers`` (:mod:`vellet.common.events`) as the
consumer group ``notifier`` and sends each party of each event its own mail
over SMTP. It never reads the wallet's database: the event carries names,
addresses and balances.

Layers: :mod:`.domain` (what an event means, pure), :mod:`.compose`
(templates to a message, pure) over :mod:`.mime` (the wire bytes, pure),
:mod:`.store` (the delivery ledger in Redis), :mod:`.relay` (SMTP, failures
sorted), :mod:`.worker` (one event, start to end), :mod:`.app` (process,
health, metrics), :mod:`.sink` (a dev mailbox) over :mod:`.sink_smtp`.

Never twice -- and the one window where twice is possible
---------------------------------------------------------
SMTP and Redis cannot commit together, so "exactly once" has a window; it
is made as small as the protocol allows and its effect is bounded:

1. Per party the ledger goes ``retry`` -> ``sending`` -> ``sent``.
   ``sending`` is written only after the relay accepted MAIL FROM and
   RCPT TO, immediately before DATA; ``sent`` immediately after the relay's
   250 reply to the final dot. The stream message is acknowledged only when
   every party is ``sent`` or ``dead``.
2. A crash anywhere before DATA leaves the party in ``retry`` (or absent):
   the redelivery sends it, no duplicate is possible. A crash after ``sent``
   was written: the redelivery skips it. A crash *during DATA* before the
   relay committed the message: it was never accepted, the resend is the
   only copy.
3. The window: the relay has committed the message (it is about to send, or
   has sent, "250") and ``sent`` is not yet in Redis -- one network round
   trip from the relay plus one HSET to Redis, typically well under a
   millisecond on a LAN. A crash (or a lost connection, or a timeout waiting
   for the 250) inside it leaves the party in ``sending``.
4. A party found in ``sending`` is counted as one unknown outcome and sent
   once more (metric ``result="resent"``): at-least-once, because a
   notification lost is worse than one seen twice. If that resend ends in
   ``sending`` again, the party is dead-lettered (``outcome_unknown``) rather
   than sent a third time. Hard bound: at most one duplicate per recipient
   per event, whatever crashes.
5. A duplicate is byte-for-byte the original, with the same ``Message-ID``
   (derived from event and party), so mail systems that collapse identical
   ids hide it from the reader.

Leases make this hold with several replicas: a party is sent only by the
holder of its lease (longer than a whole SMTP transaction), and a restarted
process with the same consumer name takes over its dead predecessor's
leases at once instead of waiting them out.
"""
