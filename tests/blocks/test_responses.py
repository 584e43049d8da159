"""What the CSMS records from a station's answers to its local-list and reservation calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from csms.blocks.responses import record_response
from csms.store import locallist, reservations
from tests.blocks.conftest import STATION

TOKEN = {"idToken": "TAG", "type": "ISO14443"}


async def test_an_accepted_send_local_list_becomes_the_believed_list(pool: asyncpg.Pool):
    request = {"versionNumber": 5, "updateType": "Full", "localAuthorizationList": [
        {"idToken": TOKEN, "idTokenInfo": {"status": "Accepted"}}]}
    await record_response(pool, STATION, "SendLocalList", request, {"status": "Accepted"})
    await record_response(pool, STATION, "SendLocalList", {**request, "versionNumber": 6},
                          {"status": "Failed", "statusInfo": {"reasonCode": "ListFull"}})
    await record_response(pool, STATION, "GetLocalListVersion", {}, {"versionNumber": 5})
    state = await locallist.get_state(pool, STATION)
    assert (state.version, state.reported_version, state.sent_version) == (5, 5, 6)
    assert (state.last_status, state.last_reason) == ("Failed", "ListFull")
    assert [(e.id_token, e.info) for e in state.entries] == [("TAG", {"status": "Accepted"})]


async def test_reserve_now_and_cancel_answers_set_the_reservation(pool: asyncpg.Pool):
    ids = [await reservations.next_id(pool) for _ in range(2)]
    for reservation_id in ids:
        await reservations.create(pool, reservation_id, STATION, id_token="TAG",
                                  id_token_type="ISO14443",
                                  expires_at=datetime.now(UTC) + timedelta(hours=1))
    occupied, accepted = ids
    await record_response(pool, STATION, "ReserveNow", {"id": occupied},
                          {"status": "Occupied", "statusInfo": {"reasonCode": "InUse"}})
    await record_response(pool, STATION, "ReserveNow", {"id": accepted}, {"status": "Accepted"})
    await record_response(pool, STATION, "CancelReservation", {"reservationId": accepted},
                          {"status": "Accepted"})
    rows = {r.id: r for r in await reservations.list_reservations(pool)}
    assert (rows[occupied].status, rows[occupied].reason) == ("Occupied", "InUse")
    assert rows[accepted].status == "Cancelled"
