"""The dashboards' JSON in Grafana's own terms, checked without a Grafana server.

No Grafana server can be installed on this machine (it is neither a Debian
12 package nor on PyPI or npm, and nothing else may be downloaded), so no
test can load a dashboard into Grafana and render its panels. Instead this
checks the structure against the fields Grafana's dashboard model requires
(``schemaVersion``, ``uid``, ``panels[].{id,type,gridPos,targets}``,
``templating.list``), the conventions of KUBERNETES.md (a ``datasource``
variable, so any Prometheus data source works) and our own (namespace and
instance variables on every query, units and thresholds on every panel,
core panel types only). Whether each query returns data is proven on a real
Prometheus by ``test_live.py``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.observability.shipped import DASHBOARDS, dashboards, panel_queries

#: Panel types built into Grafana (no plugin needed).
CORE_PANELS = {"row", "timeseries", "stat", "gauge", "bargauge", "table", "text", "heatmap"}
#: Grafana unit ids our panels may use.
UNITS = {"none", "short", "s", "ms", "percentunit", "percent", "reqps", "ops", "bytes"}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def _panels(dash: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dash["panels"] if p["type"] != "row"]


@pytest.fixture(params=[p.name for p in DASHBOARDS])
def dash(request: pytest.FixtureRequest) -> dict[str, Any]:
    return dashboards()[request.param]


def test_dashboards_are_shipped() -> None:
    assert DASHBOARDS, "charts/vellet/files/dashboards/*.json"


def test_top_level_fields_grafana_requires(dash: dict[str, Any]) -> None:
    assert isinstance(dash["uid"], str)
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", dash["uid"])
    assert dash["title"]
    assert isinstance(dash["schemaVersion"], int)
    assert dash["schemaVersion"] >= 36  # the datasource-by-uid era
    assert set(dash["time"]) == {"from", "to"}
    assert isinstance(dash["templating"]["list"], list)
    assert "__inputs" not in dash, "the sidecar loads dashboards as they are: no import inputs"
    assert "__requires" not in dash


def test_uids_are_unique_across_dashboards() -> None:
    uids = [d["uid"] for d in dashboards().values()]
    assert len(uids) == len(set(uids))


def test_variables_make_it_work_with_any_prometheus(dash: dict[str, Any]) -> None:
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("namespace", "instance"):
        var = variables[name]
        assert var["type"] == "query"
        assert var["datasource"] == DATASOURCE
        assert var["includeAll"] is True
        assert var["allValue"] == ".*", "a series without the label matches too (local stack)"
        assert var["definition"].startswith("label_values(")


def test_panels_are_core_placed_and_identified(dash: dict[str, Any]) -> None:
    ids = [p["id"] for p in dash["panels"]]
    assert all(isinstance(i, int) for i in ids)
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in dash["panels"]:
        assert panel["type"] in CORE_PANELS, f"{panel['title']}: needs a plugin"
        assert panel["title"]
        pos = panel["gridPos"]
        assert set(pos) == {"h", "w", "x", "y"}
        assert all(isinstance(v, int) and v >= 0 for v in pos.values())
        assert pos["w"] >= 1
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        mine = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"])
                for y in range(pos["y"], pos["y"] + pos["h"])}  # fmt: skip
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine


def test_every_panel_has_queries_units_and_thresholds(dash: dict[str, Any]) -> None:
    for panel in _panels(dash):
        title = panel["title"]
        assert panel["description"], title
        assert panel["datasource"] == DATASOURCE, title
        targets = panel["targets"]
        assert targets, title
        refs = [t["refId"] for t in targets]
        assert len(refs) == len(set(refs)), title
        for target in targets:
            assert target["datasource"] == DATASOURCE, title
            assert target["expr"].strip(), title
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults["unit"] in UNITS, title
        thresholds = defaults["thresholds"]
        assert thresholds["mode"] in ("absolute", "percentage"), title
        steps = thresholds["steps"]
        assert steps, title
        assert steps[0]["value"] is None, f"{title}: the base step has no value"
        values = [s["value"] for s in steps[1:]]
        assert values == sorted(values), title


def test_every_query_follows_the_namespace_and_instance_variables() -> None:
    for query in panel_queries():
        for selector in re.findall(r"\{[^{}]*\}", query.expr.replace("{{", "").replace("}}", "")):
            assert 'namespace=~"$namespace"' in selector, query.where
            assert 'instance=~"$instance"' in selector, query.where
        assert "$__rate_interval" in query.expr or "rate(" not in query.expr, query.where
