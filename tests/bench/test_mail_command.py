"""``vellet bench mail`` runs end to end, checks its mails and says what it measured.

A tiny run (a few events); the figures belong to the README, measured on a
quiet machine. This keeps the command from rotting, and shows its check can
fail: a mail missing from the sink turns the run red.
"""

from __future__ import annotations

import subprocess
import sys

from vellet.bench.mail import MailResult
from vellet.bench.report import correct


def test_the_mail_benchmark_sends_every_mail_once_over_one_connection() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vellet", "bench", "mail", "--events", "20",
         "--senders", "1"],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines()
            if line.startswith("| ")}  # fmt: skip
    assert "40 mails, 1 SMTP connection(s)" in rows["mail throughput, 1 notifier replica"]
    assert "missing 0, duplicated 0, dead 0, unacknowledged 0" in rows["mails exactly once"]
    assert "RSS notifier, mail burst" in rows


def test_a_missing_or_duplicated_mail_fails_the_run() -> None:
    assert correct(MailResult(mails=40, seconds=1.0).rows())
    assert not correct(MailResult(mails=39, seconds=1.0, missing=1).rows())
    assert not correct(MailResult(mails=41, seconds=1.0, duplicated=1).rows())
