"""Fixtures shared by every test: a real PostgreSQL and a fresh database per test.

The server is the embedded PostgreSQL in a temporary directory, or the one named by
``CSMS_DATABASE_URL``. Each test that asks for ``database_url`` gets a database of its own,
created empty and dropped afterwards.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from csms.logging import configure_logging
from csms.store.embedded import start_embedded

# Every frame at debug level would flood the captured output and slow the suite; tests that
# look at log lines configure what they need themselves.
configure_logging("info")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@pytest.fixture(autouse=True)
def _logging_kept():
    """Put back the logging configuration after each test: a command run in the test process
    (the CLI tests) configures structlog on its captured output stream, which is closed once
    the command ends; later tests must not log to it."""
    import logging

    import structlog

    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """URL of the PostgreSQL server the tests use (its maintenance database).

    The embedded cluster lives in a directory of its own rather than under pytest's temporary
    base, which pytest prunes when other test sessions start on the same machine.
    """
    url = os.environ.get("CSMS_DATABASE_URL")
    if url:
        return url
    directory = tempfile.mkdtemp(prefix="csms-test-pg-")
    # Registered before the server's own exit hook, so it runs after the server has stopped.
    atexit.register(shutil.rmtree, directory, True)
    return start_embedded(Path(directory), cleanup_mode="delete")


@contextlib.asynccontextmanager
async def new_database(pg_server_url: str) -> AsyncIterator[str]:
    """A fresh, empty database on the test server, dropped on leaving; yields its URL."""
    name = "t_" + uuid.uuid4().hex[:16]
    admin = await asyncpg.connect(pg_server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _with_database(pg_server_url, name)
    finally:
        admin = await asyncpg.connect(pg_server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def database_url(pg_server_url: str):
    """A fresh, empty database for one test; dropped when the test ends."""
    async with new_database(pg_server_url) as url:
        yield url
