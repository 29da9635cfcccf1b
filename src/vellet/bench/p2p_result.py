"""What ``vellet bench p2p`` measured: its rounds, the invariant, memory; as tables.

Apart from :mod:`vellet.bench.p2p` (which runs the servers and the load) so
each stays small; ``vellet bench all`` takes :meth:`Result.rows`.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass, field

from vellet.bench.memory import Peaks
from vellet.bench.p2p_load import Round
from vellet.bench.report import Row


@dataclass
class Result:
    rounds: list[Round] = field(default_factory=list)
    invariant_ok: bool = False
    #: Peak resident memory of the wallet processes during the P2P phases.
    memory: Peaks = field(default_factory=Peaks)
    #: P2P transfers made over the whole run, warm-up included (for --profile).
    p2p_total: int = 0
    #: CPU per transfer by process group, and PostgreSQL's statements if asked.
    profile: str = ""
    #: CPU milliseconds per measured transfer, by process group.
    cpu_ms: dict[str, float] = field(default_factory=dict)

    def rows(self, args: argparse.Namespace, label: str = "") -> list[Row]:
        """The median round as ``vellet bench all`` table rows."""
        med = statistics.median
        rs = self.rounds
        ratio, p99 = med(r.ratio for r in rs), med(r.p99 for r in rs) * 1000
        what = f"P2P, {args.clients} clients, {args.users:,} users{label}"
        return [
            Row(f"{what}: ratio to pgbench -N", f"{ratio:.2f} ({med(r.rate for r in rs):,.0f} "
                f"transfers/s vs {med(r.pgbench_tps for r in rs):,.0f} TPS, median of "
                f"{len(rs)} rounds)", ">= 0.5", ratio >= 0.5),
            Row(f"{what}: p99 latency", f"{p99:.1f} ms", "< 50 ms", p99 < 50),
            Row(f"{what}: ledger invariant",
                "holds" if self.invariant_ok else "BROKEN", "holds", self.invariant_ok,
                check=True),
            Row(f"{what}: CPU per transfer", ", ".join(
                f"{name.split(' (')[0]} {ms:.3f} ms" for name, ms in self.cpu_ms.items()), "-",
                None),
            *self.memory.rows(f"P2P load{label}"),
        ]  # fmt: skip

    def table(self, args: argparse.Namespace) -> str:
        rows = [
            "| round | clients | seconds | transfers | errors | transfers/s | p50 ms | p99 ms "
            f"| pgbench -N TPS ({args.pgbench_clients} clients) | ratio | mean batch |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for n, r in enumerate(self.rounds, 1):
            rows.append(
                f"| {n} | {args.clients} | {r.seconds:.1f} | {r.transfers} | {r.errors} "
                f"| {r.rate:.0f} | {r.p50 * 1000:.1f} | {r.p99 * 1000:.1f} "
                f"| {r.pgbench_tps:.0f} | {r.ratio:.2f} | {r.mean_batch:.1f} |"
            )
        if len(self.rounds) > 1:
            med = statistics.median
            rs = self.rounds
            rows.append(
                f"| median | {args.clients} | | | {sum(r.errors for r in rs)} "
                f"| {med(r.rate for r in rs):.0f} | {med(r.p50 for r in rs) * 1000:.1f} "
                f"| {med(r.p99 for r in rs) * 1000:.1f} | {med(r.pgbench_tps for r in rs):.0f} "
                f"| {med(r.ratio for r in rs):.2f} | {med(r.mean_batch for r in rs):.1f} |"
            )
        verdict = "holds" if self.invariant_ok else "BROKEN"
        return "\n".join([*rows, "", f"ledger invariant after all rounds: {verdict}"])
