"""Who is calling: sign-up, login, sessions.

Owns sign-up through the bank (the bank vouches for the account; name and
e-mail come from it, never from the form), login with argon2id passwords,
session JWTs (cookie or Bearer) with CSRF for cookie writes, login rate
limits per account and per client address (behind trusted proxies), and
the demo logins of ``vellet up``.

Surface for other capabilities: ``sessions`` (authenticate a request),
``rules`` (how a user renders), ``store`` (find a user). Must never move
money, and never tell an unknown account from a wrong password.
"""
