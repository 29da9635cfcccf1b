"""Subcommands whose ``--help`` reads like a tool's: plain text and examples.

Every component registers its subcommands through :func:`command`, so that
each ``--help`` has a summary, a description wrapped for a terminal, and at
least one example to copy. Docstrings stay for developers; they are never
printed as help (their reStructuredText markup reads badly in a terminal).
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

WIDTH = 78


def describe(text: str, *examples: str) -> dict[str, Any]:
    """The ``ArgumentParser`` keywords for a description and its examples."""
    if not examples:
        raise ValueError("every command shows at least one example")
    paragraphs = [textwrap.fill(p, WIDTH) for p in text.split("\n\n")]
    lines = ["example:" if len(examples) == 1 else "examples:"]
    lines += [f"  {example}" for example in examples]
    return {
        "description": "\n\n".join(paragraphs),
        "epilog": "\n".join(lines),
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }


def command(
    sub: Any, name: str, summary: str, *examples: str, description: str | None = None
) -> argparse.ArgumentParser:
    """Add subcommand ``name``: ``summary`` in its parent's list, and its own help page."""
    text = description or f"{summary[0].upper()}{summary[1:]}."
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=summary, **describe(text, *examples)
    )
    return parser
