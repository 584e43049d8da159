"""The record of a station's display: what a complete report says is gone, what expires or
ends with its transaction, and what the device model says the display supports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from csms.store import devicemodel, display
from csms.store.devicemodel import VariableAttribute
from csms.store.display import DisplayMessage
from csms.store.transactions import TxEvent, record_transaction_event


async def test_messages_left_out_of_a_complete_report_are_gone(pool: asyncpg.Pool,
                                                               station: str):
    for n, priority in ((1, "NormalCycle"), (2, "InFront"), (3, "InFront")):
        await display.record_set(pool, station, DisplayMessage(f"m{n}", priority, id=n))
    # a report of the InFront messages listing only 2: 3 is gone, 1 is not concerned
    assert await display.mark_gone(pool, station, ids=None, priority="InFront", state=None,
                                   reported=[2]) == 1
    assert [m.id for m in await display.list_messages(pool, station)] == [1, 2]
    # a report for ids 1 and 2 listing none of them
    assert await display.mark_gone(pool, station, ids=[1, 2], priority=None, state=None,
                                   reported=[]) == 2
    assert await display.list_messages(pool, station) == []


async def test_expired_and_transaction_ended_messages(pool: asyncpg.Pool, station: str):
    now = datetime.now(UTC)
    await display.record_set(pool, station, DisplayMessage("old", end=now - timedelta(1),
                                                           id=1))
    await display.record_set(pool, station, DisplayMessage("tx", transaction_id="T1", id=2))
    await display.record_set(pool, station, DisplayMessage("on", id=3))
    started = TxEvent("T1", 0, "Started", now, "Authorized")
    await record_transaction_event(pool, station, started, [])
    assert [m.id for m in await display.list_messages(pool, station)] == [2, 3]
    ended = TxEvent("T1", 1, "Ended", now, "EVDeparted")
    await record_transaction_event(pool, station, ended, [])
    every = await display.list_messages(pool, station, everything=True)
    assert [(m.id, m.status) for m in every] == [(1, "expired"), (2, "transaction-ended"),
                                                 (3, "active")]
    assert await display.active_contents(pool, [(station, 1), (station, 3), (station, 9)]) == {
        (station, 3): ("on", None)}


async def test_capabilities_come_from_the_device_model(pool: asyncpg.Pool, station: str):
    caps = await display.display_capabilities(pool, [station])
    assert caps[station] == display.DisplayCapabilities()
    await devicemodel.upsert_variable_attributes(pool, station, [
        VariableAttribute("DisplayMessageCtrlr", "Available", value="true"),
        VariableAttribute("DisplayMessageCtrlr", "Enabled", value="false"),
        VariableAttribute("DisplayMessageCtrlr", "SupportedFormats", value="ASCII, UTF8"),
        VariableAttribute("DisplayMessageCtrlr", "SupportedPriorities", value="NormalCycle")])
    caps = (await display.display_capabilities(pool, [station]))[station]
    assert caps.available is False
    assert caps.formats == {"ASCII", "UTF8"} and caps.priorities == {"NormalCycle"}
    assert caps.states is None
