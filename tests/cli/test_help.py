"""Every command answers ``--help``; bare groups print their help once."""

from __future__ import annotations

from typing import Any

import typer

from csms.cli import app
from tests.cli.conftest import assert_ok, run_cli

PUBLIC_NAMES = [
    ["serve"],
    ["stations", "add"],
    ["stations", "list"],
    ["stations", "show"],
    ["stations", "remove"],
    ["stations", "set-password"],
    ["tokens", "add"],
    ["tokens", "list"],
    ["tokens", "remove"],
    ["transactions", "list"],
    ["transactions", "show"],
    ["meter-values", "export"],
    ["call"],
    ["certs", "init"],
    ["certs", "station"],
]


def _paths(command: Any, prefix: list[str]) -> list[list[str]]:
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        return [prefix]
    paths = [prefix] if prefix else []
    for name, sub in subcommands.items():
        paths += _paths(sub, [*prefix, name])
    return paths


def test_every_command_has_help() -> None:
    paths = _paths(typer.main.get_command(app), [])
    assert len(paths) > 25
    for path in paths:
        result = assert_ok(run_cli(*path, "--help"))
        assert "Usage: csms " + " ".join(path) in " ".join(result.stdout.split()), path


def test_the_guides_public_names_exist() -> None:
    paths = _paths(typer.main.get_command(app), [])
    for name in PUBLIC_NAMES:
        assert name in paths


def test_bare_groups_print_help_once() -> None:
    for args in ([], ["stations"], ["meter-values"]):
        result = assert_ok(run_cli(*args))
        assert result.stdout.count("Usage:") == 1, args


def test_database_options_everywhere_but_certs() -> None:
    for path in _paths(typer.main.get_command(app), []):
        out = run_cli(*path, "--help").stdout
        # the PKI and the password key file need no database; groups
        if path[0] == "certs" or path[:2] == ["password-key", "rotate"] or "COMMAND [ARGS]" in out:
            continue
        assert "--database-url" in out and "--data-dir" in out, path


def test_list_and_show_take_json() -> None:
    for path in (
        ["stations", "list"],
        ["stations", "show"],
        ["tokens", "list"],
        ["transactions", "list"],
        ["transactions", "show"],
        ["call"],
    ):
        assert "--json" in run_cli(*path, "--help").stdout, path


def test_exit_statuses_are_listed() -> None:
    for path in ([], ["call"], ["reset"]):
        text = " ".join(run_cli(*path, "--help").stdout.split())
        assert "11 station disconnected before it answered" in text, path
        assert "5 station answered CALLERROR" in text, path
