"""Block O: NotifyDisplayMessages kept with the messages it lists, and what a station's answers
to SetDisplayMessage and ClearDisplayMessage change in the CSMS's record of its display."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from csms.blocks.display import from_message_info, message_info, record_answer
from csms.store import display
from csms.store.display import GRID_MESSAGE_BASE, DisplayMessage
from tests.blocks.conftest import STATION

WELCOME = {"id": 1, "priority": "NormalCycle",
           "message": {"format": "UTF8", "content": "Welcome", "language": "en"}}


def test_message_info_round_trips():
    message = DisplayMessage("Cheap power until 17:00", "InFront", "ASCII", "en", "Charging",
                             datetime(2026, 11, 5, 16, tzinfo=UTC),
                             datetime(2026, 11, 5, 17, tzinfo=UTC), "tx-1",
                             {"name": "Display", "evse": {"id": 1}}, 7)
    info = message_info(message)
    assert info["startDateTime"] == "2026-11-05T16:00:00.000Z"
    assert info["message"] == {"format": "ASCII", "content": "Cheap power until 17:00",
                               "language": "en"}
    assert from_message_info(info) == message
    assert message_info(DisplayMessage("Hi", id=0)) == {
        "id": 0, "priority": "NormalCycle", "message": {"format": "UTF8", "content": "Hi"}}


async def test_a_report_is_kept_with_its_messages(pool: asyncpg.Pool, call):
    await call("NotifyDisplayMessages", {"requestId": 5, "tbc": True, "messageInfo": [WELCOME]})
    parts = await display.report_parts(pool, STATION, 5)
    assert (parts.parts, parts.complete) == (1, False)
    other = {**WELCOME, "id": 2, "state": "Idle"}
    await call("NotifyDisplayMessages", {"requestId": 5, "messageInfo": [other]})
    parts = await display.report_parts(pool, STATION, 5)
    assert (parts.parts, parts.complete) == (2, True)
    assert [m["id"] for m in parts.message_info] == [1, 2]
    # messages this CSMS did not set are kept as the station's own
    [first, second] = await display.list_messages(pool, STATION)
    assert (first.id, first.origin, first.status, first.content, first.language) == (
        1, "station", "active", "Welcome", "en")
    assert second.state == "Idle" and second.reported_at is not None


async def test_answers_update_the_record(pool: asyncpg.Pool, version: str):
    request = {"message": {**WELCOME, "id": 3, "transactionId": "tx-9"}}
    # refused: nothing changes
    await record_answer(pool, STATION, "SetDisplayMessage", request,
                        {"status": "NotSupportedPriority"})
    assert await display.list_messages(pool, STATION, everything=True) == []
    await record_answer(pool, STATION, "SetDisplayMessage", request, {"status": "Accepted"})
    [stored] = await display.list_messages(pool, STATION)
    assert (stored.id, stored.origin, stored.transaction_id) == (3, "operator", "tx-9")
    assert stored.set_at is not None
    # O06: the same id replaces the message
    replaced = {"message": {**WELCOME, "id": 3, "message": {"format": "UTF8",
                                                            "content": "Replaced"}}}
    await record_answer(pool, STATION, "SetDisplayMessage", replaced, {"status": "Accepted"})
    [stored] = await display.list_messages(pool, STATION)
    assert (stored.content, stored.transaction_id) == ("Replaced", None)
    grid = {"message": {**WELCOME, "id": GRID_MESSAGE_BASE + 1}}
    await record_answer(pool, STATION, "SetDisplayMessage", grid, {"status": "Accepted"})
    assert [m.origin for m in await display.list_messages(pool, STATION)] == ["operator",
                                                                              "grid"]
    assert await display.next_message_id(pool, STATION) == 4
    await record_answer(pool, STATION, "ClearDisplayMessage", {"id": 3}, {"status": "Accepted"})
    await record_answer(pool, STATION, "ClearDisplayMessage", {"id": GRID_MESSAGE_BASE + 1},
                        {"status": "Unknown"})
    assert await display.list_messages(pool, STATION) == []
    every = await display.list_messages(pool, STATION, everything=True)
    assert [m.status for m in every] == ["cleared", "gone"]
