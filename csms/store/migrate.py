"""Schema migrations: plain SQL files applied in numeric order, recorded in a version table.

Files are named ``NNNN_name.sql`` in ``csms/store/migrations/``. Each one runs in its own
transaction and is recorded in ``schema_migrations``. A session-level advisory lock serialises
processes that start at the same time, so exactly one of them applies a given file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import asyncpg

# Arbitrary constant identifying the migration lock among advisory locks.
MIGRATION_LOCK_KEY = 0x0C5A5_0001

_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """The database schema cannot be brought to the version this code expects."""


class SchemaTooNew(MigrationError):
    """The database has migrations this code does not know (written by a newer version)."""


@dataclass(frozen=True)
class Migration:
    """One SQL file: its version number, name, and text."""

    version: int
    name: str
    sql: str


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Return the migrations in ``directory`` (default: the package's), sorted by version.

    Raises MigrationError for a badly named ``.sql`` file or two files with one version.
    """
    if directory is None:
        root = resources.files("csms.store") / "migrations"
        entries = [(p.name, p.read_text(encoding="utf-8")) for p in root.iterdir()]
    else:
        entries = [(p.name, p.read_text(encoding="utf-8")) for p in Path(directory).iterdir()]
    found: dict[int, Migration] = {}
    for filename, text in entries:
        if not filename.endswith(".sql"):
            continue
        match = _FILE_RE.match(filename)
        if match is None:
            raise MigrationError(f"migration file {filename!r} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(
                f"migrations {found[version].name!r} and {match.group(2)!r} share version {version}"
            )
        found[version] = Migration(version, match.group(2), text)
    return [found[v] for v in sorted(found)]


async def applied_versions(conn: asyncpg.Connection) -> dict[int, str]:
    """Versions recorded in the database (empty if it has never been migrated)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch("SELECT version, name FROM schema_migrations")
    return {r["version"]: r["name"] for r in rows}


async def migrate(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[int]:
    """Apply every migration the database lacks, in version order; return the versions applied.

    Safe to call from several processes at once (they queue on an advisory lock) and a no-op
    when the schema is current. Raises SchemaTooNew if the database records a version this code
    does not have, and MigrationError if a file fails (that file's changes are rolled back).
    """
    if migrations is None:
        migrations = load_migrations()
    known = {m.version for m in migrations}
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     integer PRIMARY KEY,
                name        text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        done = await applied_versions(conn)
        unknown = sorted(set(done) - known)
        if unknown:
            raise SchemaTooNew(
                f"the database schema has migration(s) {unknown} that this version of csms does "
                f"not know (it knows up to {max(known, default=0)}); upgrade csms or use "
                "another database"
            )
        applied: list[int] = []
        for m in migrations:
            if m.version in done:
                continue
            try:
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        m.version,
                        m.name,
                    )
            except asyncpg.PostgresError as exc:
                raise MigrationError(
                    f"migration {m.version:04d}_{m.name}.sql failed: {exc}"
                ) from exc
            applied.append(m.version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
