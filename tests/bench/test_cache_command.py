"""``vellet bench cache`` runs end to end and reports warm-up and steady state apart.

A tiny run; the figures belong to the README. The hit ratio is not asserted
(it is a measurement), only that both phases are reported and every answer
was the account asked for.
"""

from __future__ import annotations

import subprocess
import sys


def test_the_cache_benchmark_reports_warm_up_and_steady_state_apart() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vellet", "bench", "cache", "--accounts", "200",
         "--warmup", "1000", "--lookups", "500", "--zipf", "1.0"],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines()
            if line.startswith("| ")}  # fmt: skip
    assert "over 1,000 look-ups" in rows["bank cache hit ratio, warm-up (200 accounts, Zipf s=1.0)"]
    steady = rows["bank cache hit ratio, steady state (200 accounts, Zipf s=1.0)"]
    assert "over 500 look-ups" in steady
    assert "wrong 0" in rows["bank cache answers"]
