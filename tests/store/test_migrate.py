"""Schema migrations: order, idempotence, newer databases, failures, concurrent starts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from csms.store.db import open_pool
from csms.store.migrate import (
    MigrationError,
    SchemaTooNew,
    applied_versions,
    load_migrations,
    migrate,
)


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


async def test_package_migrations_apply_in_order_and_create_the_schema(database_url: str):
    known = load_migrations()
    assert [m.version for m in known] == sorted(m.version for m in known)
    conn = await asyncpg.connect(database_url)
    try:
        applied = await migrate(conn)
        assert applied == [m.version for m in known]
        assert set(await applied_versions(conn)) == {m.version for m in known}
        for table in ("stations", "transactions", "transaction_events", "meter_values",
                      "variable_attributes", "id_tokens"):
            assert await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table)
    finally:
        await conn.close()


async def test_second_run_is_a_no_op(database_url: str):
    conn = await asyncpg.connect(database_url)
    try:
        assert await migrate(conn)
        assert await migrate(conn) == []
    finally:
        await conn.close()


async def test_missing_lower_version_is_applied_after_higher_ones(database_url: str, tmp_path):
    d = _write(tmp_path / "m", {"0001_a.sql": "CREATE TABLE a (x int);",
                                "0100_c.sql": "CREATE TABLE c (x int);"})
    conn = await asyncpg.connect(database_url)
    try:
        assert await migrate(conn, load_migrations(d)) == [1, 100]
        _write(d, {"0002_b.sql": "CREATE TABLE b (x int);"})
        assert await migrate(conn, load_migrations(d)) == [2]
        assert set(await applied_versions(conn)) == {1, 2, 100}
    finally:
        await conn.close()


async def test_database_newer_than_code_is_a_clear_error(database_url: str):
    pool = await open_pool(database_url)
    await pool.execute("INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')")
    await pool.close()
    with pytest.raises(SchemaTooNew, match="9999"):
        await open_pool(database_url)


async def test_failing_migration_is_rolled_back_and_not_recorded(database_url: str, tmp_path):
    d = _write(tmp_path / "m", {"0001_ok.sql": "CREATE TABLE ok (x int);",
                                "0002_bad.sql": "CREATE TABLE half (x int); SELECT nonsense;"})
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(MigrationError, match="0002_bad"):
            await migrate(conn, load_migrations(d))
        assert set(await applied_versions(conn)) == {1}
        assert not await conn.fetchval("SELECT to_regclass('half') IS NOT NULL")
    finally:
        await conn.close()


def test_badly_named_or_duplicate_files_are_refused(tmp_path):
    with pytest.raises(MigrationError, match="NNNN_name"):
        load_migrations(_write(tmp_path / "a", {"1_x.sql": ""}))
    with pytest.raises(MigrationError, match="share version 3"):
        load_migrations(_write(tmp_path / "b", {"0003_x.sql": "", "0003_y.sql": ""}))


async def test_concurrent_starts_apply_each_migration_once(database_url: str):
    conns = [await asyncpg.connect(database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        applied = sorted(v for r in results for v in r)
        assert applied == [m.version for m in load_migrations()]
        assert sum(1 for r in results if r) == 1
    finally:
        for c in conns:
            await c.close()


async def test_pool_round_trips_jsonb_as_python_values(database_url: str):
    pool = await open_pool(database_url)
    try:
        value = {"a": [1, 2.5, None], "b": {"c": "d"}}
        assert await pool.fetchval("SELECT $1::jsonb", value) == value
    finally:
        await pool.close()


async def test_0350_brings_stored_kwh_readings_to_wh_and_fixes_transaction_totals(
        database_url: str):
    """Rows stored before units were converted: kWh registers become Wh, a misfit is flagged,
    and the transaction's energy totals are recomputed from the converted values."""
    before = [m for m in load_migrations() if m.version < 350]
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, before)
        await conn.execute("INSERT INTO stations (id, password_hash) VALUES ('CS-1', 'x')")
        await conn.execute(
            "INSERT INTO transactions (station_id, transaction_id, energy_import_start,"
            " energy_import_end) VALUES ('CS-1', 'TX', 10, 12.5)")
        await conn.execute(
            "INSERT INTO transaction_events (station_id, transaction_id, seq_no, event_type,"
            " timestamp, trigger_reason, payload) VALUES ('CS-1', 'TX', 0, 'Started', now(),"
            " 'Authorized', '{}')")
        await conn.executemany(
            "INSERT INTO meter_values (station_id, evse_id, transaction_id, timestamp,"
            " measurand, location, unit, context, value) VALUES ('CS-1', 1, 'TX',"
            " '2026-06-01T16:00:00Z'::timestamptz + $1 * interval '1 minute', $2, 'Outlet', $3,"
            " 'Sample.Periodic', $4)",
            [(0, "Energy.Active.Import.Register", "kWh", 10.0),
             (1, "Energy.Active.Import.Register", "kWh", 12.5),
             (1, "Power.Active.Import", "kW", 7.4),
             (1, "Power.Active.Import", "kWh", 3.0),
             (1, "SoC", "Percent", 55.0)])
        await migrate(conn)
        rows = await conn.fetch("SELECT measurand, unit, value, sent_unit, unit_valid"
                                " FROM meter_values ORDER BY timestamp, measurand, unit")
        assert [tuple(r) for r in rows] == [
            ("Energy.Active.Import.Register", "Wh", 10_000.0, "kWh", True),
            ("Energy.Active.Import.Register", "Wh", 12_500.0, "kWh", True),
            ("Power.Active.Import", "W", 7_400.0, "kW", True),
            ("Power.Active.Import", "kWh", 3.0, "kWh", False),
            ("SoC", "Percent", 55.0, None, True)]
        totals = await conn.fetchrow("SELECT energy_import_start, energy_import_end"
                                     " FROM transactions")
        assert tuple(totals) == (10_000.0, 12_500.0)
        # the event stored before digests matches any later event with its seqNo
        assert await conn.fetchval("SELECT digest FROM transaction_events") == 0
    finally:
        await conn.close()
