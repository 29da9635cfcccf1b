"""The dashboard: the web pages people use, and their live channel.

Owns ``routes`` (server-rendered pages and the fragments live updates
re-fetch), ``live`` (the WebSocket a logged-in page listens on), ``hub``
(one reader per replica of ``vellet:events:transfers``, fanned out to the
sockets of the accounts an event names), ``rules`` (pure: headers, views,
which sockets an event concerns) and ``wiring`` (``setup(app)``).

The pages are a client of the public API: every write goes from the
page's script to ``/api/v1`` with the session cookie, the CSRF header and
an Idempotency-Key rendered once per form. The server side only reads.

Surface: ``wiring.setup``. Must never move money itself, and never let a
socket hear of a transfer its session's account is not a party to.
"""
