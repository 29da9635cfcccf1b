"""A small, seeded ``vellet bench drill``: every fault once, in every run of the suite.

One drill (300 transfers, short outages and pauses) runs for the module;
then each promise is its own test: nothing lost or duplicated, no 500, the
books balance, every mail delivered within the bound, and -- one test per
fault -- the fault's probe saw it interrupt what it targets (so a fault that
injects nothing fails here rather than letting the drill pass for free).
The full run (``vellet bench drill --transfers 20000``) is a benchmark, in
the README.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from vellet.bench.drill import Options, run_drill
from vellet.bench.drill_faults import Durations, plan_faults
from vellet.bench.drill_report import DrillResult, report

# Pauses longer than the clients' timeout, outages long enough for requests to
# meet them; small, so the whole drill stays around two minutes on two cores.
_TIMES = Durations(outage=4.0, pause=4.0, cut=3.0)
_OPTS = Options(transfers=300, users=6, parallel=8, seed=19, settle_timeout=120,
                mail_timeout=120, client_timeout=3.0, times=_TIMES)  # fmt: skip
_FAULTS = [f.name for f in plan_faults(_TIMES)]
# Whichever test comes first runs the drill in its setup (about 2-3 minutes).
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
async def drill() -> AsyncIterator[DrillResult]:
    with tempfile.TemporaryDirectory(prefix="vellet-drill-test-") as tmp:
        result = await run_drill(_OPTS, Path(tmp))
        print(report(result))  # in the test's output when anything fails
        yield result


async def test_no_transfer_is_lost_or_duplicated_and_the_books_balance(
    drill: DrillResult,
) -> None:
    assert (drill.lost, drill.duplicated, drill.tally.gave_up) == (0, 0, 0)
    assert drill.books.problems == []
    assert drill.books.wallet_settlement == drill.books.bank_settlement
    assert len(drill.tally.accepted) + sum(drill.tally.refused.values()) == _OPTS.transfers


async def test_no_request_was_answered_500(drill: DrillResult) -> None:
    assert drill.server_errors == 0
    assert any(status == 503 for *_, status in drill.tally.attempts), "no outage was met"


async def test_every_party_got_its_mail_at_most_once_more(drill: DrillResult) -> None:
    mail = drill.mail
    assert mail.expected >= _OPTS.transfers  # every finished transfer has an owner to mail
    assert (mail.missing, mail.over_bound, mail.unexpected) == (0, 0, 0)
    assert mail.sent == mail.expected


async def test_the_drill_says_ok(drill: DrillResult) -> None:
    assert drill.ok, report(drill)
    assert "verdict                    OK" in report(drill)


@pytest.mark.parametrize("index", range(len(_FAULTS)), ids=_FAULTS)
async def test_the_fault_really_interrupted_what_it_targets(drill: DrillResult, index: int) -> None:
    run = drill.runs[index]
    assert run.name == _FAULTS[index]
    assert run.interrupted, f"{run.name}: the probe saw nothing: {run.evidence}"
    assert run.healed > run.started
