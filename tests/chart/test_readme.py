"""The chart README's values table is generated from values.yaml's `# --` comments."""

from __future__ import annotations

import subprocess
import sys

from tests.chart.helm import CHART, ROOT

sys.path.insert(0, str(ROOT / "deploy"))
import chart_readme


def test_the_chart_readme_is_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "chart_readme.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_every_value_is_documented_in_the_readme() -> None:
    documented, undocumented = chart_readme.rows((CHART / "values.yaml").read_text())
    assert undocumented == []
    readme = (CHART / "README.md").read_text()
    for row in documented:
        assert f"| `{row.path}` |" in readme


def test_an_undocumented_key_is_found() -> None:
    _, undocumented = chart_readme.rows(
        "a:\n  # -- documented\n  b: 1\n  c: 2\n# -- whole\nd:\n  e: 3\n"
    )
    assert undocumented == ["a.c"]


def test_a_stale_readme_is_refused(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(chart_readme, "CHART", tmp_path)
    (tmp_path / "values.yaml").write_text("# -- a value\nx: 1\n")
    (tmp_path / "README.md.gotmpl").write_text("{{ VALUES }}\n")
    (tmp_path / "README.md").write_text("old\n")
    assert chart_readme.main(["--check"]) == 1
    assert chart_readme.main([]) == 0
    assert chart_readme.main(["--check"]) == 0
    assert "| `x` | `1` | a value |" in (tmp_path / "README.md").read_text()
