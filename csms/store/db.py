"""The connection pool: opened once per process, after the schema is brought up to date."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson

from csms.store.migrate import migrate

Db = asyncpg.Pool | asyncpg.Connection
"""What every query function takes: a pool or a single connection (e.g. inside a transaction)."""


@asynccontextmanager
async def connection(db: Db) -> AsyncIterator[asyncpg.Connection]:
    """Yield a single connection: ``db`` itself, or one acquired from the pool ``db``."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            yield conn
    else:
        yield db


def dumps_json(value: Any) -> str:
    """A JSON document as stored in json and jsonb columns."""
    # orjson: a TransactionEvent's stored payload in about a tenth of json's time; json for
    # what orjson refuses (integers beyond 64 bits, keys that are not strings)
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"))


async def init_connection(conn: asyncpg.Connection) -> None:
    """Register codecs so json and jsonb columns take and return Python values."""
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, encoder=dumps_json, decoder=json.loads, schema="pg_catalog"
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset at release: nothing beyond asyncpg's own (an open transaction is
    rolled back, listener callbacks dropped).

    asyncpg's default sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET
    ALL`` at every release: one more round trip and statement for every query made through the
    pool (a fifth of the CPU of a reconnect storm, docs/performance.md). Pool connections here
    never hold session state: LISTEN, session advisory locks and long-lived settings live on
    connections of their own (the operations client, the grid dispatcher, the event stream),
    and cursors only inside transactions.
    """
    del conn


def application(name: str) -> dict[str, Any]:
    """asyncpg connection arguments naming the connection ``name`` in ``pg_stat_activity``
    (what an operator sees, and how nodes tell that another node's process is gone)."""
    return {"server_settings": {"application_name": name[:63]}}


async def open_pool(
    database_url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    apply_migrations: bool = True,
    application_name: str | None = None,
    **kw: Any,
) -> asyncpg.Pool:
    """Migrate the database (unless told not to) and return a pool of ready connections.

    Every connection of the pool maps json/jsonb to Python dicts and lists, and is named
    ``application_name`` in ``pg_stat_activity`` when given. Raises
    ``csms.store.migrate.SchemaTooNew`` when the database is newer than this code, and
    ``MigrationError`` when a migration fails. Extra keyword arguments go to
    ``asyncpg.create_pool``.
    """
    if apply_migrations:
        conn = await asyncpg.connect(database_url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
    kw.setdefault("reset", _keep_session)
    if application_name is not None:
        kw = {**application(application_name), **kw}
    return await asyncpg.create_pool(
        database_url, min_size=min_size, max_size=max_size, init=init_connection, **kw
    )
