"""The one table every benchmark reports into: measure, figure, goal, met or not.

A benchmark returns :class:`Row` values instead of printing prose, so
``vellet bench all`` can put every measure in one table and exit non-zero
when any correctness check failed. A speed goal missed is reported, not
fatal (the machine may be busy); a wrong answer is always fatal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    #: What is measured, e.g. ``mail throughput (1 replica)``.
    measure: str
    #: The figure, already formatted with its unit (and its reference, if any).
    figure: str
    #: The goal, e.g. ``>= 500 mails/s``; ``-`` for a figure with none.
    goal: str
    #: Whether the goal is met; None when the row has no goal.
    met: bool | None
    #: A correctness check rather than a speed figure: failing it fails the run.
    check: bool = False


def verdict(met: bool | None) -> str:
    return "-" if met is None else ("met" if met else "NOT met")


def table(rows: Iterable[Row]) -> str:
    lines = ["| measure | figure | goal | met |", "|---|---|---|---|"]
    lines += [f"| {r.measure} | {r.figure} | {r.goal} | {verdict(r.met)} |" for r in rows]
    return "\n".join(lines)


def correct(rows: Iterable[Row]) -> bool:
    """Every correctness check held (speed goals do not count here)."""
    return all(r.met for r in rows if r.check)


def exit_code(rows: list[Row]) -> int:
    print(table(rows))
    return 0 if correct(rows) else 1
