"""The drill's verdict: what the clients were told, what the books say, what each fault did.

:class:`DrillResult` holds everything measured; :attr:`DrillResult.ok` is the
exit status (nothing lost, nothing duplicated, no 500, no Redis ACL denial,
the books balance, every mail delivered within the bound, every fault seen
by its probe);
:func:`report` is the table ``vellet bench drill`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass

from vellet.bench.books import Books
from vellet.bench.drill_faults import FaultRun
from vellet.bench.drill_load import Tally
from vellet.bench.drill_mail import MailBooks


@dataclass
class DrillResult:
    transfers: int
    tally: Tally
    funding: Tally
    books: Books
    extra: dict[str, int]
    mail: MailBooks
    runs: list[FaultRun]
    mail_wait: float
    seconds: float

    @property
    def lost(self) -> int:
        accepted = set(self.tally.accepted.values())
        unfinished = sum(n for s, n in self.books.by_state.items() if s in ("pending", "queued"))
        never = sum(1 for p in self.books.problems if "never saw" in p or "but the bank says" in p)
        return len(accepted) - self.extra["accepted_found"] + unfinished + never

    @property
    def duplicated(self) -> int:
        known = self.extra["wallet_transfers"] - len(self.funding.accepted)  # made by the load
        extra = max(0, known - len(set(self.tally.accepted.values())))
        return extra + self.books.bank_duplicates + self.extra["misentered"]

    @property
    def server_errors(self) -> int:
        """500 answers (a 503 is fine: "retry"; a 500 is a bug)."""
        return sum(1 for *_, status in self.tally.attempts + self.funding.attempts
                   if status == 500)  # fmt: skip

    @property
    def unseen_faults(self) -> list[str]:
        return [run.name for run in self.runs if not run.interrupted]

    @property
    def ok(self) -> bool:
        # A Redis ACL denial is a service kept from its own work: it would show
        # here before it showed as money (``extra["acl_denials"]``, from ACL LOG).
        return (self.books.ok and self.lost == 0 and self.duplicated == 0
                and self.server_errors == 0 and self.extra["acl_denials"] == 0
                and self.mail.ok and not self.unseen_faults
                and self.tally.gave_up == 0)  # fmt: skip

    def disturbed(self, run: FaultRun) -> int:
        """Client attempts sent while the fault lasted that got no final answer (timeout,
        reset, 5xx, 409 in flight) or were queued (202: the bank call failed)."""
        return sum(
            1
            for sent, _, status in self.tally.attempts
            if run.started <= sent <= run.healed and status not in (201, 400, 422)
        )

    def recovered(self, run: FaultRun) -> float | None:
        """Seconds from the heal to the first 201 answered to an attempt sent after it,
        None if none came before the next fault began (that one is in the way)."""
        later = [r.started for r in self.runs if r.started > run.started]
        until = min(later, default=float("inf"))
        after = [answered for sent, answered, status in self.tally.attempts
                 if sent >= run.healed and status == 201 and answered <= until]  # fmt: skip
        return min(after) - run.healed if after else None


def _faults(result: DrillResult) -> list[str]:
    lines = [
        "faults (lasted; client attempts disturbed; first 201 after the heal, '-' if the "
        "next fault came first; probe):"
    ]
    for run in result.runs:
        back = result.recovered(run)
        lines.append(
            f"  {run.healed - run.started:5.1f} s  {result.disturbed(run):5d}  "
            f"{'   -  ' if back is None else f'{back:5.1f} s'}  "
            f"{'seen' if run.interrupted else 'NOT SEEN'}  {run.name}: {'; '.join(run.evidence)}"
        )
    return lines


def report(result: DrillResult) -> str:
    t, books, extra, mail = result.tally, result.books, result.extra, result.mail
    accepted = set(t.accepted.values())
    final = {s: n for s, n in books.by_state.items() if s not in ("pending", "queued")}
    posted = final.get("posted", 0) - result.funding.first_status.get(201, 0)
    lines = [
        *_faults(result),
        "totals:",
        f"  requests sent              {result.transfers}  (client retries with the same key: "
        f"{t.retries}, gave up: {t.gave_up})",
        f"  accepted                   {len(accepted)}  (201 final at once: "
        f"{t.first_status.get(201, 0)}, 202 queued: {t.first_status.get(202, 0)})",
        f"  refused at the door        {sum(t.refused.values())}  {t.refused or ''}",
        f"  posted                     {posted}",
        f"  voided (withdrawals)       {final.get('voided', 0)}",
        f"  failed (deposits)          {final.get('failed', 0)}",
        f"  answers lost in transit    {extra['dropped_bytes']} bytes dropped by the proxy",
        f"  re-published (attempts>1)  {extra['republished']}",
        f"  dead letters               {extra['dead_letters']}",
        f"  500 answers                {result.server_errors}  (must be 0; 503s are retried)",
        f"  Redis ACL denials          {extra['acl_denials']}  (must be 0; since Redis last "
        "started)",
        f"  lost                       {result.lost}  (must be 0)",
        f"  duplicated                 {result.duplicated}  (must be 0)",
        f"  wallet settlement          {books.wallet_settlement / 100:.2f} INR",
        f"  bank settlement            {books.bank_settlement / 100:.2f} INR",
        f"  invariant holds            {'yes' if books.ok else 'NO'}  (wallet ledger invariant, "
        "bank audit, wallet settlement == bank settlement, every transfer agrees)",
        f"  mails expected             {mail.expected}  (every party of every finished transfer)",
        f"  mails sent                 {mail.sent}  (missing: {mail.missing}, must be 0; "
        f"the last arrived {result.mail_wait:.1f} s after the transfers settled)",
        f"  mails duplicated           {mail.duplicated}  (over the bound of one extra per "
        f"recipient per event: {mail.over_bound}, must be 0; unexpected: {mail.unexpected})",
        f"  mails dead-lettered        {mail.dead}",
        f"  faults not seen            {len(result.unseen_faults)}  (must be 0)",
        f"  verdict                    {'OK' if result.ok else 'FAILED'}",
        f"  took                       {result.seconds:.1f} s",
    ]
    lines += [f"  PROBLEM: {p}" for p in books.problems[:20]]
    return "\n".join(lines)
