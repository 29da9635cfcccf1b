"""The README's configuration table lists every variable the code reads."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "src", ROOT / "services", ROOT / "operator", ROOT / "tests" / "conftest.py",
           ROOT / "tests" / "support"]  # fmt: skip


def _variables_in_code() -> set[str]:
    found: set[str] = set()
    for base in SOURCES:
        files = [base] if base.is_file() else base.rglob("*.py")
        for path in files:
            if "src/vellet/" in str(path) and path.parent.is_symlink():
                continue
            found |= set(re.findall(r"[\"'](VELLET_[A-Z0-9_]+)[\"']", path.read_text()))
    return found


def test_every_environment_variable_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `(VELLET_[A-Z0-9_]+)` \|", readme, flags=re.M))
    missing = _variables_in_code() - documented
    assert not missing, f"add these to the README's configuration table: {sorted(missing)}"


def test_readme_has_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make up " in readme
    assert "make test " in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
