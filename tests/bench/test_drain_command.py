"""``vellet bench drain --pg-stats``: a tiny drain, its books, and both databases' statements.

Smoke size only (no timed assertion): the command works, checks its books,
and splits the drain's database time by statement on the banks' and on the
wallets' side, which is how the stale-statistics plan was found.
"""

from __future__ import annotations

import re
import subprocess
import sys


def test_the_drain_benchmark_checks_its_books_and_splits_both_databases_statements() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vellet", "bench", "drain", "--transfers", "40", "--users", "4",
         "--parallel", "4", "--pg-stats"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert re.search(r"\| drain books \| lost 0, duplicated 0, .*\| met \|", done.stdout)
    banks, wallets = done.stdout.split("The wallets' PostgreSQL statements by time")
    assert "The banks' PostgreSQL statements by time (40 transfers" in banks
    # Each side's batch statement ran: the bank's claim, the wallet's finish.
    assert re.search(r"[1-9]\d* calls +top +INSERT INTO transactions", banks)
    assert re.search(r"[1-9]\d* calls +top +WITH locked AS MATERIALIZED", wallets)
