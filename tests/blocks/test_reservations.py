"""Block H: how a station reports a reservation's end (ReservationStatusUpdate, H04) and its
use by a transaction (H03)."""

from __future__ import annotations

import asyncpg

from csms.store import reservations
from tests.blocks.conftest import STATION, Call
from tests.store.reserving import new_reservation, reservation_status


async def _accepted(pool: asyncpg.Pool) -> int:
    reservation_id = await new_reservation(pool, STATION, id_token="TAG", evse_id=1,
                                           minutes=60)
    await reservations.record_answer(pool, STATION, reservation_id, "Accepted")
    return reservation_id


async def test_h04_expired_and_removed_end_the_reservation(pool: asyncpg.Pool, call: Call):
    expired, removed = await _accepted(pool), await _accepted(pool)
    for reservation_id, status in ((expired, "Expired"), (removed, "Removed")):
        assert await call("ReservationStatusUpdate", {
            "reservationId": reservation_id, "reservationUpdateStatus": status}) == {}
        assert await reservation_status(pool, reservation_id) == status


async def test_an_update_for_an_unknown_reservation_is_acknowledged(pool: asyncpg.Pool,
                                                                    call: Call):
    assert await call("ReservationStatusUpdate", {"reservationId": 77,
                                                  "reservationUpdateStatus": "Expired"}) == {}
    assert await reservations.list_reservations(pool) == []


async def test_v21_no_transaction(pool: asyncpg.Pool, call21: Call):
    reservation_id = await _accepted(pool)
    await call21("ReservationStatusUpdate", {"reservationId": reservation_id,
                                             "reservationUpdateStatus": "NoTransaction"})
    assert await reservation_status(pool, reservation_id) == "NoTransaction"


async def test_h03_a_transaction_with_the_reservation_id_uses_it(pool: asyncpg.Pool,
                                                                 call: Call):
    reservation_id = await _accepted(pool)
    await call("TransactionEvent", {
        "eventType": "Started", "timestamp": "2026-06-01T16:00:00Z", "triggerReason": "Authorized",
        "seqNo": 0, "transactionInfo": {"transactionId": "TX-R"}, "evse": {"id": 1},
        "reservationId": reservation_id})
    row = await reservations.get(pool, reservation_id)
    assert row is not None and (row.status, row.transaction_id) == ("Used", "TX-R")
