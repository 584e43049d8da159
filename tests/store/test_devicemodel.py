"""Device model storage and multi-part report progress."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from csms.store import devicemodel, diagnostics
from csms.store.devicemodel import VariableAttribute

T0 = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)


async def test_report_parts_complete_only_when_all_arrived(pool: asyncpg.Pool, station: str):
    attr = VariableAttribute("EVSE", "Power", evse_id=1, value="20000",
                             characteristics={"unit": "W", "dataType": "decimal"})
    assert await devicemodel.store_report(pool, station, 7, 1, False, T0, [attr])
    assert not await diagnostics.report_complete(pool, station, "NotifyReport", 7)
    assert await devicemodel.store_report(pool, station, 7, 0, True, T0, [])
    assert not await devicemodel.store_report(pool, station, 7, 0, True, T0, [])
    assert await diagnostics.report_complete(pool, station, "NotifyReport", 7)
    parts = await pool.fetch("SELECT seq_no FROM report_parts WHERE request_id = 7 ORDER BY 1")
    assert [p["seq_no"] for p in parts] == [0, 1]


async def test_upsert_replaces_value_and_keeps_characteristics(pool: asyncpg.Pool, station: str):
    first = VariableAttribute("OCPPCommCtrlr", "HeartbeatInterval", value="300",
                              mutability="ReadWrite", characteristics={"dataType": "integer"})
    await devicemodel.upsert_variable_attributes(pool, station, [first])
    await devicemodel.upsert_variable_attributes(
        pool, station, [VariableAttribute("OCPPCommCtrlr", "HeartbeatInterval", value="60")])
    [stored] = await devicemodel.get_variables(pool, station, component_name="OCPPCommCtrlr")
    assert stored.value == "60" and stored.mutability == "ReadWrite"
    assert stored.characteristics == {"dataType": "integer"}
    assert stored.evse_id is None and stored.component_instance is None
