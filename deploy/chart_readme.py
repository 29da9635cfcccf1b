"""Write (or, with --check, verify) charts/vellet/README.md from values.yaml's `# --` comments.

The values table is generated, so it cannot drift from values.yaml; the prose
above it lives in charts/vellet/README.md.gotmpl (plain text with a
``{{ VALUES }}`` marker, not a Go template). Every key a comment documents is a
row: its path, type, default and description. A key without a `# --` comment
is allowed only inside a documented parent (e.g. ``resources.limits``).
Needs PyYAML (the project's dev dependencies).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parent.parent / "charts" / "vellet"
KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_]+):(?P<rest>.*)$")


@dataclass
class Row:
    path: str
    default: str
    description: str


def _scalar(text: str) -> str:
    return text.split(" #", 1)[0].strip()


def rows(values_text: str) -> tuple[list[Row], list[str]]:
    """Documented keys, and keys that are documented neither themselves nor by a parent."""
    documented: list[Row] = []
    undocumented: list[str] = []
    stack: list[tuple[int, str, bool]] = []  # (indent, key, documented)
    comment: list[str] = []
    values = yaml.safe_load(values_text)
    for line in values_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# -- "):
            comment = [stripped[5:].strip()]
            continue
        if not stripped:
            comment = []
            continue
        if stripped.startswith("#") and comment:
            comment.append(stripped[1:].strip())
            continue
        match = KEY.match(line)
        if not match:
            if not stripped.startswith("- ") and stripped:
                comment = []
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([k for _, k, _ in stack] + [match["key"]])
        covered = any(d for _, _, d in stack)
        rest = _scalar(match["rest"])
        if comment:
            documented.append(Row(path, _default(values, path), " ".join(comment)))
        elif not covered and rest:
            undocumented.append(path)
        stack.append((indent, match["key"], bool(comment) or covered))
        comment = []
    return documented, undocumented


def _default(values: dict[str, Any], path: str) -> str:
    node: Any = values
    for key in path.split("."):
        node = node[key]
    return json.dumps(node, separators=(", ", ": "))


def render() -> str:
    documented, undocumented = rows((CHART / "values.yaml").read_text())
    if undocumented:
        raise SystemExit(f"values.yaml keys without a `# --` comment: {', '.join(undocumented)}")
    table = ["| Key | Default | Description |", "|---|---|---|"]
    for row in documented:
        default, description = (text.replace("|", "\\|") for text in (row.default, row.description))
        table.append(f"| `{row.path}` | `{default}` | {description} |")
    template = (CHART / "README.md.gotmpl").read_text()
    return template.replace("{{ VALUES }}", "\n".join(table))


def main(argv: list[str]) -> int:
    target = CHART / "README.md"
    text = render()
    if "--check" in argv:
        if not target.exists() or target.read_text() != text:
            print(
                "charts/vellet/README.md is stale: run python3 deploy/chart_readme.py",
                file=sys.stderr,
            )
            return 1
        return 0
    target.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
