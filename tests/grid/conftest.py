"""The ``csms`` command line in-process against the test database, for the grid commands."""

from __future__ import annotations

import pytest
from typer.testing import Result

from tests.cli.conftest import Invoke, run_cli


@pytest.fixture
def csms(database_url: str) -> Invoke:
    """``csms(*args)`` runs a command with ``--database-url`` pointing at a fresh database."""

    def invoke(*args: str) -> Result:
        return run_cli(*args, "--database-url", database_url)

    return invoke


def ok(result: Result) -> Result:
    """The command succeeded (what it wrote on stderr is not checked)."""
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def error(result: Result, code: int, fragment: str) -> None:
    """The command failed with ``code`` and one stderr line containing ``fragment``."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout
