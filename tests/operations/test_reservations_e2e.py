"""Functional block H end to end: a live CSMS node reserves the EVSE of a simulated station
for a driver (H01), cancels (H02), sees the reservation used by a transaction (H03) or ended by
the station (H04), over real sockets. Named after the Part 6 cases (TC_H_xx_CSMS, from the
edition that fills section 3.9) and the H requirements."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from csms.operations import Operations
from csms.operations.reservations import (
    ReservationRequest,
    ReservationResult,
    cancel_reservation,
    create_reservation,
)
from csms.server import CentralSystem
from csms.store import reservations, stations, tokens, transactions
from csms.store.reservations import Reservation
from simulators.battery import LEAF_40, Battery
from simulators.evse import EVVisit
from tests.operations.conftest import StationSite, idle_station, run_cli, wait_for

pytestmark = pytest.mark.e2e

STATION = "RS1"
DRIVER, OTHER, MATE, GROUP = "H-DRIVER", "H-OTHER", "H-MATE", "H-GROUP"


class Site(StationSite):
    async def reserve(self, token: str = DRIVER, *, minutes: float = 10,
                      **options: Any) -> ReservationResult:
        until = datetime.now(UTC) + timedelta(minutes=minutes)
        request = ReservationRequest(STATION, token, "ISO14443", until, **options)
        return await create_reservation(self.ops, self.pool, request, timeout=10)

    async def connector_is(self, status: str) -> None:
        async def reported() -> bool:
            row = await stations.get_station(self.pool, STATION)
            return bool(row and [c.status for c in row.connectors] == [status])

        await wait_for(reported, 15)

    async def ends(self, reservation_id: int, status: str, **fields: Any) -> Reservation:
        async def ended() -> Reservation | None:
            row = await reservations.get(self.pool, reservation_id)
            if row is None or row.status != status:
                return None
            return row if all(getattr(row, k) == v for k, v in fields.items()) else None

        return await wait_for(ended, 15)

    def arrive(self, token: str) -> None:
        self.station.plug_in(EVVisit(Battery(LEAF_40, soc=0.5), departure_at=time.time() + 3600,
                                     id_token=token, token_type="ISO14443"))


@pytest.fixture
async def site(csms: CentralSystem, database_url: str) -> AsyncIterator[Site]:
    for token in (DRIVER, OTHER):
        await tokens.add_token(csms.pool, token)
    await tokens.add_token(csms.pool, MATE, group_id_token=GROUP)
    async with idle_station(csms, "RS") as station, Operations(csms.pool, database_url) as ops:
        yield Site(csms.pool, ops, station, database_url)


async def test_tc_h_01_reserve_a_specific_evse_accepted(site: Site):
    result = await site.reserve(evse_id=1)

    assert result.ok and result.reservation is not None
    reservation = result.reservation
    assert (reservation.status, reservation.evse_id, reservation.id_token) == (
        "Accepted", 1, DRIVER)
    request = result.outcome.request or {}
    assert request["evseId"] == 1 and request["idToken"] == {"idToken": DRIVER,
                                                             "type": "ISO14443"}
    await site.connector_is("Reserved")  # H01.FR.23
    live = await reservations.list_reservations(site.pool, station_id=STATION, active=True)
    assert [r.id for r in live] == [reservation.id]


async def test_tc_h_07_reservation_ended_not_used(site: Site):
    result = await site.reserve(evse_id=1, minutes=2 / 60)
    assert result.ok and result.reservation is not None
    await site.connector_is("Reserved")

    # H04.FR.01: the station tells the CSMS the reservation expired
    await site.ends(result.reservation.id, "Expired", reason="reported by the station")
    await site.connector_is("Available")
    assert await reservations.list_reservations(site.pool, active=True) == []


async def test_tc_h_08_tc_h_14_reserve_an_unspecified_evse(site: Site):
    first = await site.reserve()
    assert first.ok and first.reservation is not None and first.reservation.evse_id is None
    assert "evseId" not in (first.outcome.request or {})
    await site.connector_is("Reserved")

    # TC_H_14: the station's one EVSE is reserved, as many EVSEs as reservations: no more
    second = await site.reserve(OTHER)
    assert not second.ok and second.outcome.station_status == "Occupied"
    assert second.reservation is not None and second.reservation.status == "Occupied"


async def test_tc_h_15_reserve_a_connector_with_a_specific_type(site: Site):
    wrong = await site.reserve(connector_type="cType2")
    assert wrong.outcome.station_status == "Rejected"
    assert wrong.reservation is not None and wrong.reservation.status == "Rejected"

    right = await site.reserve(connector_type="cG105")  # the simulator's CHAdeMO connector
    assert right.ok and (right.outcome.request or {})["connectorType"] == "cG105"
    await site.connector_is("Reserved")


async def test_tc_h_17_cancel_reservation_of_an_evse(site: Site):
    created = await site.reserve(evse_id=1)
    assert created.reservation is not None
    await site.connector_is("Reserved")

    result = await cancel_reservation(site.ops, site.pool, created.reservation, timeout=10)

    assert result.ok and result.reservation is not None
    assert result.reservation.status == "Cancelled"
    await site.connector_is("Available")
    # the station's ReservationStatusUpdate (Removed) does not overwrite the cancel
    await asyncio.sleep(0.5)
    assert (await reservations.get(site.pool, created.reservation.id)).status == "Cancelled"

    again = await cancel_reservation(site.ops, site.pool, result.reservation, timeout=10)
    assert not again.ok and "not active" in (again.outcome.reason or "")


async def test_h02_cancel_of_a_reservation_the_station_lost_ends_it(site: Site):
    created = await site.reserve(evse_id=1)
    assert created.reservation is not None
    site.station.evse.reservation = None  # the station forgot it (a reboot, say)

    result = await cancel_reservation(site.ops, site.pool, created.reservation, timeout=10)

    assert result.outcome.station_status == "Rejected"
    assert result.reservation is not None and result.reservation.status == "Removed"


async def test_tc_h_19_use_a_reserved_evse_with_group_id(site: Site):
    created = await site.reserve(evse_id=1, group_id_token=GROUP)
    assert created.ok and created.reservation is not None
    assert (created.outcome.request or {})["groupIdToken"] == {"idToken": GROUP,
                                                               "type": "Central"}
    await site.connector_is("Reserved")

    site.arrive(MATE)  # another card of the group (H03.FR.07/08: its group comes by Authorize)

    used = await site.ends(created.reservation.id, "Used")
    assert used.transaction_id is not None
    detail = await transactions.get_transaction(site.pool, used.transaction_id,
                                                station_id=STATION)
    assert detail.reservation_id == created.reservation.id and detail.id_token == MATE
    await site.connector_is("Occupied")  # H03.FR.10


async def test_h03_a_reserved_evse_refuses_other_tokens_and_serves_its_own(site: Site):
    created = await site.reserve(evse_id=1)
    assert created.reservation is not None
    await site.connector_is("Reserved")

    site.arrive(OTHER)
    await asyncio.sleep(1.5)
    assert site.station.evse.tx is None  # no transaction for another token
    await site.connector_is("Reserved")  # G03.FR.09
    remote = await site.ops.call(STATION, "RequestStartTransaction", {
        "idToken": {"idToken": OTHER, "type": "ISO14443"}, "remoteStartId": 1}, timeout=10)
    assert remote.station_status == "Rejected"
    site.station.unplug()

    site.arrive(DRIVER)

    used = await site.ends(created.reservation.id, "Used")
    detail = await transactions.get_transaction(site.pool, used.transaction_id or "",
                                                station_id=STATION)
    assert detail.reservation_id == created.reservation.id and detail.id_token == DRIVER


async def test_tc_h_20_station_cancels_reservation_when_faulted(site: Site):
    created = await site.reserve(evse_id=1)
    assert created.reservation is not None
    await site.connector_is("Reserved")

    site.station.config.faults.since["connector_fault"] = site.station.elapsed()

    await site.connector_is("Faulted")
    await site.ends(created.reservation.id, "Removed", reason="reported by the station")
    refused = await site.reserve(OTHER, evse_id=1)
    assert refused.outcome.station_status == "Faulted"


async def test_h01_an_unavailable_evse_cannot_be_reserved(site: Site):
    taken_out = await site.ops.call(STATION, "ChangeAvailability", {
        "operationalStatus": "Inoperative", "evse": {"id": 1}}, timeout=10)
    assert taken_out.ok

    result = await site.reserve(evse_id=1)

    assert result.outcome.station_status == "Unavailable"
    assert result.reservation is not None and result.reservation.status == "Unavailable"


async def test_tc_h_22_reserve_a_specific_evse_configured_to_reject(site: Site):
    db = site.database_url
    code, _, err = await run_cli("set-variables", STATION, "ReservationCtrlr.Enabled=false",
                                 "--database-url", db)
    assert code == 0, err

    code, out, err = await run_cli("reservations", "create", STATION, "--token", DRIVER,
                                   "--evse", "1", "--json", "--database-url", db)

    assert code == 5 and err.count("\n") == 1
    assert "ReserveNow answered Rejected" in err and "ReservationsDisabled" in err
    assert json.loads(out)["status"] == "Rejected"


async def test_cli_reservations_create_list_show_cancel(site: Site):
    db = site.database_url
    code, out, err = await run_cli("reservations", "create", STATION, "--token", DRIVER,
                                   "--evse", "1", "--expires-in", "20m", "--database-url", db)
    assert code == 0, err
    assert out.startswith("reservation ") and f"station {STATION}, EVSE 1" in out
    reservation_id = out.split()[1]

    code, out, err = await run_cli("reservations", "list", "--active", "--json",
                                   "--database-url", db)
    assert code == 0, err
    [row] = json.loads(out)
    assert str(row["id"]) == reservation_id and row["status"] == "Accepted"

    code, out, err = await run_cli("reservations", "cancel", reservation_id, "--database-url", db)
    assert code == 0, err
    code, out, err = await run_cli("reservations", "show", reservation_id, "--json",
                                   "--database-url", db)
    assert code == 0 and json.loads(out)["status"] == "Cancelled"

    code, _, err = await run_cli("reservations", "create", STATION, "--token", "NOBODY",
                                 "--database-url", db)
    assert code == 2 and "token NOBODY (ISO14443) is not known" in err
    code, _, err = await run_cli("reservations", "cancel", "999", "--database-url", db)
    assert code == 3 and "unknown reservation 999" in err
