"""`greenai --help`, `-h` and every sub-command's help: the first commands a newcomer types."""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys

import pytest

from greenai import cli


def _commands(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """Return every sub-command path of the parser, found from argparse (new ones too)."""
    found: list[tuple[str, ...]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((*prefix, name))
                found.extend(_commands(sub, (*prefix, name)))
    return found


COMMANDS = _commands(cli.build_parser())


def test_the_parser_has_the_documented_commands():
    names = {c[0] for c in COMMANDS}
    assert {"run", "probe", "show", "bench", "tune", "rate", "verify"} <= names
    assert ("bench", "run") in COMMANDS


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_top_level_help_in_a_process(flag: str):
    res = subprocess.run(
        [sys.executable, "-m", "greenai", flag], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert "usage: greenai" in res.stdout
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_sub_command_help(path: tuple[str, ...]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        cli.main([*path, "--help"])
    assert done.value.code == 0
    assert f"usage: greenai {' '.join(path)}" in out.getvalue()


def test_an_internal_error_is_one_line_and_exit_2(monkeypatch, capsys):
    def boom(args):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(cli, "_cmd_probe", boom)
    assert cli.main(["probe"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "RecursionError" in err and "GREENAI_DEBUG=1" in err
    monkeypatch.setenv("GREENAI_DEBUG", "1")
    with pytest.raises(RecursionError):
        cli.main(["probe"])


def test_warnings_print_without_a_source_line():
    text = cli._one_line_warning(
        UserWarning("two meters on this node"), UserWarning, "x.py", 3, "src"
    )
    assert text == "greenai: warning: two meters on this node\n"
