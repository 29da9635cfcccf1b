"""The drill's verdict fails on each thing it promises to catch.

A clean result is OK; then each defect alone -- a lost or a duplicated
transfer, a 500, a Redis ACL denial, an imbalance, a missing mail, a mail
beyond the bound, a fault its probe did not see, a client that gave up --
must turn it to FAILED
(exit 1). The mail count is read from a real Maildir the way the sink writes
it (envelope header first, then the notifier's headers).
"""

from __future__ import annotations

import mailbox
from collections.abc import Callable
from pathlib import Path

import pytest

from vellet.bench.books import Books
from vellet.bench.drill_faults import FaultRun
from vellet.bench.drill_load import Tally
from vellet.bench.drill_mail import MailBooks, received
from vellet.bench.drill_report import DrillResult, report


def _clean() -> DrillResult:
    tally = Tally(accepted={"k1": "t1", "k2": "t2"}, first_status={201: 2}, done=2,
                  attempts=[(1.0, 1.1, 201), (2.0, 2.1, 503), (3.0, 3.1, 201)])  # fmt: skip
    books = Books(wallet_settlement=100, bank_settlement=100, by_state={"posted": 2})
    extra = {"wallet_transfers": 2, "accepted_found": 2, "republished": 0, "misentered": 0,
             "dead_letters": 0, "dropped_bytes": 0, "acl_denials": 0}  # fmt: skip
    mail = MailBooks(expected=2, sent=2)
    run = FaultRun("a fault", started=1.5, healed=2.5, interrupted=True, evidence=["seen"])
    return DrillResult(2, tally, Tally(), books, extra, mail, [run], 0.0, 1.0)


def _lost(r: DrillResult) -> None:
    r.extra["accepted_found"] = 1


def _duplicated(r: DrillResult) -> None:
    r.extra["wallet_transfers"] = 3


def _misentered(r: DrillResult) -> None:
    r.extra["misentered"] = 1


def _acl_denied(r: DrillResult) -> None:
    r.extra["acl_denials"] = 1


def _answered_500(r: DrillResult) -> None:
    r.tally.attempts.append((4.0, 4.1, 500))


def _imbalanced(r: DrillResult) -> None:
    r.books.problems.append("settlement: wallet 100 != bank 90")


def _mail_missing(r: DrillResult) -> None:
    r.mail.missing = 1


def _mail_over_bound(r: DrillResult) -> None:
    r.mail.over_bound = 1


def _fault_unseen(r: DrillResult) -> None:
    r.runs[0].interrupted = False


def _gave_up(r: DrillResult) -> None:
    r.tally.gave_up = 1


def test_a_clean_drill_is_ok() -> None:
    result = _clean()
    assert result.ok
    assert "verdict                    OK" in report(result)
    assert result.disturbed(result.runs[0]) == 1  # the 503 sent while the fault lasted


@pytest.mark.parametrize(
    "defect",
    [_lost, _duplicated, _misentered, _answered_500, _acl_denied, _imbalanced, _mail_missing,
     _mail_over_bound, _fault_unseen, _gave_up],
)  # fmt: skip
def test_each_defect_fails_the_drill(defect: Callable[[DrillResult], None]) -> None:
    result = _clean()
    defect(result)
    assert not result.ok
    assert "verdict                    FAILED" in report(result)


def test_mail_is_counted_per_transfer_and_recipient(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "mail", create=True)

    def mail(transfer: str, to: str) -> bytes:
        head = f"X-Sink-Envelope-From: no-reply@vellet.test\r\nX-Sink-Envelope-To: {to}\r\n"
        return f"{head}X-Vellet-Transfer-Id: {transfer}\r\nSubject: x\r\n\r\nbody\r\n".encode()

    for message in (mail("t1", "a@x.test"), mail("t1", "a@x.test"), mail("t2", "B@x.test")):
        box.add(message)
    box.add(b"X-Sink-Envelope-To: a@x.test\r\nSubject: your sign-up code\r\n\r\n123456\r\n")
    assert received(tmp_path / "mail") == {("t1", "a@x.test"): 2, ("t2", "b@x.test"): 1}
