"""Run a ``vellet`` service under cProfile, and say per transfer (or mail) where its time went.

``python -m vellet.bench.profiled OUT wallet serve`` is ``vellet wallet
serve`` with the profiler on from the first import; SIGTERM (how the
benchmarks stop their children) ends it normally, so ``OUT`` is written.
:func:`summary` turns the file into milliseconds per transfer for the
functions that tell the story (HTTP handling, the session check, the P2P
route, the ledger batch, the outbox relay, the dashboard's live channel).

cProfile roughly doubles the cost of Python code, so read the shares, not
the absolute figures; a sampling profiler (py-spy) is not installable here.
"""

from __future__ import annotations

import cProfile
import pstats
import runpy
import signal
import sys
from typing import Any

#: (label, file suffix, function name): what a P2P transfer spends its time in.
P2P_STAGES: tuple[tuple[str, str, str], ...] = (
    ("HTTP request, all of it", "aiohttp/web_protocol.py", "_handle_request"),
    ("  writing the response", "aiohttp/web_protocol.py", "finish_response"),
    ("  metrics + problem middleware", "vellet/common/metrics.py", "middleware"),
    ("  session check (JWT)", "vellet/wallet/auth/sessions.py", "authenticate"),
    ("  P2P route (parse, rules, batcher)", "vellet/wallet/api/transfers.py", "_p2p"),
    ("ledger batch (SQL)", "vellet/wallet/ledger/store.py", "p2p_batch"),
    ("event outbox relay", "vellet/wallet/events/relay.py", "publish_batch"),
    ("dashboard live channel", "vellet/wallet/web/hub.py", "run"),
    ("socket send (all)", "~", "<method 'send' of '_socket.socket' objects>"),
    ("waiting (epoll)", "~", "<method 'poll' of 'select.epoll' objects>"),
)

#: The same for one mail of ``vellet bench mail --profile`` (the notifier).
MAIL_STAGES: tuple[tuple[str, str, str], ...] = (
    ("stream message, all of it", "vellet/common/streams/_consumer.py", "_deliver"),
    ("  signature check", "vellet/common/streams/_signing.py", "verify"),
    ("  the worker (ledger, compose, SMTP)", "vellet/notifier/worker.py", "handle"),
    ("  leases of a round (one script)", "vellet/notifier/store.py", "acquire_all"),
    ("  composing the mail", "vellet/notifier/compose.py", "message"),
    ("    Jinja rendering", "jinja2/environment.py", "render"),
    ("  MAIL FROM + RCPT TO", "vellet/notifier/relay.py", "envelope"),
    ("  mark sending", "vellet/notifier/store.py", "sending"),
    ("  DATA", "vellet/notifier/relay.py", "data"),
    ("  mark sent (and the event done)", "vellet/notifier/store.py", "sent"),
    ("Redis commands (all)", "redis/asyncio/client.py", "execute_command"),
    ("socket send (all)", "~", "<method 'send' of '_socket.socket' objects>"),
    ("waiting (epoll)", "~", "<method 'poll' of 'select.epoll' objects>"),
)


def main() -> None:
    out, argv = sys.argv[1], sys.argv[2:]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        # As ``python -m vellet`` would (the benchmarks may not import the CLI).
        sys.argv = ["vellet", *argv]
        runpy.run_module("vellet", run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        profiler.disable()
        profiler.dump_stats(out)


def summary(
    path: str,
    count: int,
    stages: tuple[tuple[str, str, str], ...] = P2P_STAGES,
    unit: str = "transfer",
    service: str = "wallet",
) -> str:
    """One line per stage: cumulative ms per ``unit`` (over the process's life)."""
    loaded: Any = pstats.Stats(path)
    stats = loaded.stats  # {(file, line, name): (cc, nc, tt, ct, callers)}; not in the stubs
    lines = [f"profile of the {service} (cProfile, {count} {unit}s over its life):"]
    for label, suffix, name in stages:
        cumulative = sum(ct for (file, _, func), (_, _, _, ct, _) in stats.items()
                         if func == name and file.endswith(suffix))  # fmt: skip
        per = cumulative * 1000 / count if count else 0.0
        lines.append(f"  {label:<38} {per:6.3f} ms per {unit}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
