"""Departure-aware charging over a raw OCPP-J socket, as Part 6's reusable state
ISO15118SmartCharging describes it for a CSMS: NotifyEVChargingNeeds is answered (Accepted),
then the CSMS sends a SetChargingProfile with a TxProfile for the running transaction."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from csms.blocks.ev_charging import NEED_STACK_LEVEL
from csms.operations.profiles import believed_profiles
from csms.server import CentralSystem
from csms.smartcharging import ChargingProfile
from csms.store import stations
from tests.conftest import PASSWORD, until

NOW = datetime.now(UTC).replace(microsecond=0)


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


async def _station(csms: CentralSystem, version: str) -> ClientConnection:
    assert csms.pool is not None
    await stations.register_station(csms.pool, "EV-1", PASSWORD)
    token = base64.b64encode(f"EV-1:{PASSWORD}".encode()).decode()
    ws = await connect(f"ws://127.0.0.1:{csms.port}/ocpp/EV-1",
                       subprotocols=[f"ocpp{version}"],  # type: ignore[list-item]
                       additional_headers={"Authorization": f"Basic {token}"}, open_timeout=5)
    await _call(ws, "BootNotification", {"reason": "PowerUp", "chargingStation": {
        "model": "FE-20", "vendorName": "Fermata"}})
    await _call(ws, "TransactionEvent", {
        "eventType": "Started", "timestamp": _iso(NOW), "triggerReason": "CablePluggedIn",
        "seqNo": 0, "transactionInfo": {"transactionId": "TX-9", "chargingState": "EVConnected"},
        "evse": {"id": 1, "connectorId": 1}})
    return ws


async def _call(ws: ClientConnection, action: str, payload: dict[str, Any]) -> Any:
    await ws.send(json.dumps([2, action, action, payload]))
    return json.loads(await ws.recv())


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_iso15118_smart_charging_need_is_answered_then_met_by_a_tx_profile(
    csms: CentralSystem, version: str
) -> None:
    ws = await _station(csms, version)
    departure = NOW + timedelta(hours=4)
    needs: dict[str, Any] = {"requestedEnergyTransfer": "DC", "departureTime": _iso(departure),
                             "dcChargingParameters": {"evMaxCurrent": 50, "evMaxVoltage": 400,
                                                      "evMaxPower": 20000,
                                                      "energyAmount": 20000}}
    if version == "2.1":
        needs["requestedEnergyTransfer"] = "DC_BPT"
        needs["v2xChargingParameters"] = {"maxChargePower": 11000, "maxDischargePower": 9000,
                                          "evTargetEnergyRequest": 20000,
                                          "evMinV2XEnergyRequest": -5000}
    await ws.send(json.dumps([2, "need-1", "NotifyEVChargingNeeds",
                              {"evseId": 1, "chargingNeeds": needs}]))
    # Step 2 before step 3: the answer first, then the CSMS's SetChargingProfile.
    answer = json.loads(await ws.recv())
    assert answer == [3, "need-1", {"status": "Accepted"}]
    call = json.loads(await ws.recv())
    assert call[0] == 2 and call[2] == "SetChargingProfile"
    request = call[3]
    profile = ChargingProfile.from_wire(request["chargingProfile"], version)
    assert request["evseId"] == 1
    assert (profile.purpose, profile.transaction_id) == ("TxProfile", "TX-9")
    assert profile.stack_level == NEED_STACK_LEVEL
    schedule = profile.schedule
    power = schedule.periods[0].limit
    # The need is met by departure: power x time covers 20 kWh, within the EV's maximum
    # (2.1: the V2X block's maxChargePower).
    assert power * schedule.duration / 3600 >= 20000
    assert power <= (11000 if version == "2.1" else 20000)
    assert schedule.start_schedule + timedelta(seconds=schedule.duration) <= departure
    await ws.send(json.dumps([3, call[1], {"status": "Accepted"}]))
    believed = await until(lambda: believed_profiles(csms.pool, "EV-1"))
    assert believed.get(profile.id).profile == profile
    await ws.close()


async def test_need_without_a_transaction_is_stored_and_no_profile_follows(
    csms: CentralSystem,
) -> None:
    assert csms.pool is not None
    ws = await _station(csms, "2.0.1")
    await _call(ws, "TransactionEvent", {
        "eventType": "Ended", "timestamp": _iso(NOW), "triggerReason": "EVDeparted",
        "seqNo": 1, "transactionInfo": {"transactionId": "TX-9", "stoppedReason": "EVDisconnected"},
        "evse": {"id": 1, "connectorId": 1}})
    needs = {"requestedEnergyTransfer": "DC", "departureTime": _iso(NOW + timedelta(hours=1)),
             "dcChargingParameters": {"evMaxCurrent": 50, "evMaxVoltage": 400,
                                      "energyAmount": 5000}}
    answer = await _call(ws, "NotifyEVChargingNeeds", {"evseId": 1, "chargingNeeds": needs})
    assert answer[2] == {"status": "Accepted"}
    # A heartbeat round trip after the answer: had a SetChargingProfile been queued, it
    # would have been claimed by now; the commands table shows none.
    await _call(ws, "Heartbeat", {})
    assert await csms.pool.fetchval("SELECT count(*) FROM commands") == 0
    await ws.close()
