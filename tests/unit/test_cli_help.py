"""Every ``vellet ... --help`` reads like a tool's help: plain text, with an example."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from vellet.cli import build_parser, main


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:  # argparse keeps its subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _commands(child, (*path, name))


COMMANDS = list(_commands(build_parser()))


def test_the_tree_holds_every_component() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {
        "wallet serve",
        "bank audit",
        "notifier sink",
        "operator run",
        "up",
        "bench p2p",
    } <= names


@pytest.mark.parametrize(
    ("path", "parser"), COMMANDS, ids=[" ".join(("vellet", *path)) for path, _ in COMMANDS]
)
def test_help_is_plain_text_with_an_example(
    path: tuple[str, ...], parser: argparse.ArgumentParser
) -> None:
    text = parser.format_help()
    assert "``" not in text, "reStructuredText markup in --help"
    assert ":func:" not in text
    assert ":class:" not in text
    _, sep, examples = text.rpartition("\nexample")
    assert sep, "no example section"
    lines = examples.splitlines()[1:]
    assert lines
    assert all(line.startswith("  ") and "vellet " in line for line in lines)


def test_help_exits_zero_and_prints(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["wallet", "--help"])
    assert exit_.value.code == 0
    assert "vellet wallet serve" in capsys.readouterr().out
