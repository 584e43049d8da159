"""Shared fixtures of the store and handler tests: a database already migrated.

Migrating costs more than copying, so the schema is built once per session in a template
database and each test gets a fresh copy of it (``CREATE DATABASE ... TEMPLATE``).
"""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from csms.store.migrate import migrate


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` on the same server."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _build_template(server_url: str, name: str) -> None:
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(with_database(server_url, name))
    try:
        await migrate(conn)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def migrated_template(pg_server_url: str):
    """Name of a database holding the current schema and nothing else (dropped at the end)."""
    name = "tmpl_" + uuid.uuid4().hex[:12]
    asyncio.run(_build_template(pg_server_url, name))
    yield name
    asyncio.run(_admin(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def migrated_url(pg_server_url: str, migrated_template: str):
    """URL of a fresh database with the current schema, dropped after the test."""
    name = "t_" + uuid.uuid4().hex[:16]
    await _admin(pg_server_url, f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
    yield with_database(pg_server_url, name)
    await _admin(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
