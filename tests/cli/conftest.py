"""Helpers for driving the ``csms`` application in-process against the test database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import pytest
from typer.testing import CliRunner, Result

from csms.cli import app
from csms.store.db import open_pool

T = TypeVar("T")

Invoke = Callable[..., Result]


def run_cli(*args: str, input: str | None = None) -> Result:
    """Run ``csms ARGS...`` in-process and return its result (stdout and stderr apart)."""
    return CliRunner().invoke(app, list(args), input=input, prog_name="csms")


def assert_ok(result: Result) -> Result:
    """The command succeeded and printed nothing on stderr."""
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr == ""
    return result


def assert_error(result: Result, code: int, *fragments: str) -> str:
    """The command failed with ``code`` and exactly one stderr line containing ``fragments``."""
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture
def csms(database_url: str) -> Invoke:
    """``csms(*args)`` runs a command with ``--database-url`` pointing at a fresh database."""

    def invoke(*args: str) -> Result:
        return run_cli(*args, "--database-url", database_url)

    return invoke


def with_db(database_url: str, fn: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Run ``fn(pool)`` on the test database from a synchronous test (seeding, checking)."""

    async def go() -> T:
        pool = await open_pool(database_url)
        try:
            return await fn(pool)
        finally:
            await pool.close()

    return asyncio.run(go())


async def run_cli_async(*args: str) -> Result:
    """Run ``csms ARGS...`` in a worker thread, so an async test can act meanwhile."""
    return await asyncio.to_thread(run_cli, *args)


@pytest.fixture
def with_station(database_url: str) -> str:
    """A database where station CP-1 exists (offline), so calls get past the station lookup."""
    from csms.store.stations import register_station

    with_db(database_url, lambda db: register_station(db, "CP-1", "correct-horse-battery"))
    return database_url


def assert_never_a_traceback(result: Result) -> None:
    """A command given random arguments ends with its output, or with one plain line on stderr
    and an exit status that is not INTERNAL or DATABASE (the database is fine, so DATABASE
    would mean a bad argument reached a query)."""
    from csms.cli.errors import ExitCode

    assert isinstance(result.exception, SystemExit | None), repr(result.exception)
    assert "Traceback" not in result.stdout + result.stderr
    if result.exit_code != 0:
        assert result.exit_code not in (ExitCode.INTERNAL, ExitCode.DATABASE), result.stderr
        assert len(result.stderr.splitlines()) == 1, result.stderr
