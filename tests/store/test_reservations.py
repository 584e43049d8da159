"""Reservations: created Requested, then the station's answer and how each one ended."""

from __future__ import annotations

import asyncpg

from csms.store import reservations
from tests.store.reserving import new_reservation, reservation_status


async def test_ids_are_never_reused(pool: asyncpg.Pool, station: str):
    assert {await new_reservation(pool, station) for _ in range(3)} == {1, 2, 3}


async def test_the_answer_then_the_end(pool: asyncpg.Pool, station: str):
    reservation_id = await new_reservation(pool, station)
    assert await reservation_status(pool, reservation_id) == "Requested"
    assert await reservations.record_answer(pool, station, reservation_id, "Accepted")
    assert not await reservations.record_answer(pool, station, reservation_id, "Occupied")
    assert await reservations.record_station_update(pool, station, reservation_id, "Expired")
    assert await reservation_status(pool, reservation_id) == "Expired"
    assert await reservations.list_reservations(pool, active=True) == []


async def test_used_and_cancelled_are_not_undone_by_a_later_update(pool: asyncpg.Pool,
                                                                   station: str):
    used, cancelled = await new_reservation(pool, station), await new_reservation(pool, station)
    for reservation_id in (used, cancelled):
        await reservations.record_answer(pool, station, reservation_id, "Accepted")
    assert await reservations.record_use(pool, station, used, "tx-1")
    assert await reservations.record_cancel(pool, station, cancelled, accepted=True)
    for reservation_id in (used, cancelled):
        assert not await reservations.record_station_update(pool, station, reservation_id,
                                                            "Removed")
    row = await reservations.get(pool, used)
    assert row is not None and (row.status, row.transaction_id) == ("Used", "tx-1")
    assert await reservation_status(pool, cancelled) == "Cancelled"


async def test_a_cancel_accepted_after_the_stations_removed_ends_cancelled(pool: asyncpg.Pool,
                                                                          station: str):
    reservation_id = await new_reservation(pool, station)
    await reservations.record_answer(pool, station, reservation_id, "Accepted")
    await reservations.record_station_update(pool, station, reservation_id, "Removed")
    assert await reservations.record_cancel(pool, station, reservation_id, accepted=True)
    assert await reservation_status(pool, reservation_id) == "Cancelled"


async def test_a_cancel_the_station_rejects_removes_it(pool: asyncpg.Pool, station: str):
    reservation_id = await new_reservation(pool, station)
    await reservations.record_answer(pool, station, reservation_id, "Accepted")
    assert await reservations.record_cancel(pool, station, reservation_id, accepted=False)
    row = await reservations.get(pool, reservation_id)
    assert row is not None and row.status == "Removed" and "no such" in (row.reason or "")


async def test_a_past_expiry_settles_as_expired(pool: asyncpg.Pool, station: str):
    live = await new_reservation(pool, station)
    past = await new_reservation(pool, station, minutes=-1)
    rows = await reservations.list_reservations(pool, station_id=station)
    assert [(r.id, r.status) for r in rows] == [(past, "Expired"), (live, "Requested")]
    assert [r.id for r in await reservations.list_reservations(pool, active=True)] == [live]


async def test_updates_name_the_station(pool: asyncpg.Pool, station: str):
    reservation_id = await new_reservation(pool, station)
    assert not await reservations.record_answer(pool, "OTHER", reservation_id, "Accepted")
    assert not await reservations.record_failure(pool, "OTHER", reservation_id, "offline")
    assert await reservations.record_failure(pool, station, reservation_id, "offline")
    assert await reservation_status(pool, reservation_id) == "Failed"
