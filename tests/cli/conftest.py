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
