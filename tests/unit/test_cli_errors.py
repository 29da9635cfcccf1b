"""Errors a command raises print one readable line and exit 2, never a trace or nothing.

A bare ``TimeoutError`` (what asyncio and asyncpg raise) has no text: the
line used to read ``vellet: `` and nothing else, after a 15-minute benchmark.
"""

from __future__ import annotations

import argparse
import errno

import pytest

from vellet import cli
from vellet.common.errors import ConfigError


def parser_raising(err: BaseException) -> argparse.ArgumentParser:
    def fail(_args: argparse.Namespace) -> int:
        raise err

    parser = argparse.ArgumentParser(prog="vellet")
    parser.set_defaults(func=fail)
    return parser


@pytest.mark.parametrize(
    ("err", "line"),
    [
        (TimeoutError(), "vellet: timed out waiting for a server (TimeoutError)"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
         "vellet: Connection refused"),
        (OSError("no route to the bank"), "vellet: no route to the bank"),
        (BlockingIOError(), "vellet: BlockingIOError"),
        (ConfigError("VELLET_X must be a number"), "vellet: VELLET_X must be a number"),
    ],
)  # fmt: skip
def test_an_error_is_one_readable_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    err: BaseException, line: str,
) -> None:  # fmt: skip
    monkeypatch.setattr(cli, "build_parser", lambda: parser_raising(err))

    assert cli.main([]) == 2
    captured = capsys.readouterr()
    assert captured.err == line + "\n"
    assert captured.out == ""
