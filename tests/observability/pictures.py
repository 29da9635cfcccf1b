"""Pictures of the dashboard's panel groups, drawn from a real Prometheus's data.

No Grafana can run here to render its own panels, so matplotlib draws each
row of the dashboard as Grafana would lay it out in spirit: one plot per
panel, one line per series, the panel's legend format applied. The README
shows the pictures of the live test's run.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")  # no display: files only
import matplotlib.pyplot as plt

from tests.observability.prom import Prom
from tests.observability.shipped import Query, grafana_expr


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _legend(fmt: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt) or str(labels)


async def draw_rows(prom: Prom, queries: list[Query], start: float, end: float, out: Path,
                    *, rate_interval: str, step: float) -> list[Path]:  # fmt: skip
    """One PNG per dashboard row (``<row>.png`` in ``out``); the paths written."""
    by_row: dict[str, dict[str, list[Query]]] = defaultdict(lambda: defaultdict(list))
    for query in queries:
        by_row[query.row][query.panel].append(query)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for row, panels in by_row.items():
        series = {
            title: [(q, await prom.range(grafana_expr(q.expr, rate_interval=rate_interval),
                                         start, end, step)) for q in targets]
            for title, targets in panels.items()
        }  # fmt: skip
        written.append(_draw(row, series, start, out / f"{slug(row)}.png"))
    return written


def _draw(row: str, panels: dict[str, list[tuple[Query, list[Any]]]], start: float,
          path: Path) -> Path:  # fmt: skip
    columns = min(len(panels), 3)
    lines = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(lines, columns, figsize=(5.2 * columns, 3.2 * lines), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, (title, results) in zip(axes.flat, panels.items(), strict=False):
        for query, result in results:
            for item in result:
                xs = [float(t) - start for t, _ in item["values"]]
                ys = [float(v) for _, v in item["values"]]
                ax.plot(xs, ys, linewidth=1.2, label=_legend(query.legend, item["metric"]))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("seconds into the test run", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        handles, _ = ax.get_legend_handles_labels()
        if handles:
            ax.legend(fontsize=6, loc="upper left", ncol=2 if len(handles) > 6 else 1)
    fig.suptitle(f"Vellet overview: {row}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
