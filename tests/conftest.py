"""Fixtures shared by every test: a real PostgreSQL and a fresh database per test.

The server is the embedded PostgreSQL in a temporary directory, or the one named by
``CSMS_DATABASE_URL``. Each test that asks for ``database_url`` gets a database of its own,
created empty and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from csms.store.embedded import start_embedded


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of the PostgreSQL server the tests use (its maintenance database)."""
    url = os.environ.get("CSMS_DATABASE_URL")
    if url:
        return url
    return start_embedded(tmp_path_factory.mktemp("pg"), cleanup_mode="delete")


@pytest.fixture
async def database_url(pg_server_url: str):
    """A fresh, empty database for one test; dropped when the test ends."""
    name = "t_" + uuid.uuid4().hex[:16]
    admin = await asyncpg.connect(pg_server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _with_database(pg_server_url, name)
    admin = await asyncpg.connect(pg_server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
