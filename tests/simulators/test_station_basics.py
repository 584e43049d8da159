"""Station over real sockets: boot, heartbeat, status, and the transaction's events."""

from __future__ import annotations

import itertools

from tests.simulators.conftest import StationFactory, leaf_visit
from tests.simulators.minicsms import MiniCsms


async def test_tc_b_01_cold_boot_then_heartbeat_at_the_given_interval(
        csms: MiniCsms, run_station: StationFactory) -> None:
    csms.heartbeat_interval = 1
    run_station("SIM1")
    await csms.wait_for(lambda: len(csms.messages("Heartbeat")) >= 3)
    boot = csms.messages("BootNotification")[0]
    assert boot["reason"] == "PowerUp"
    assert boot["chargingStation"]["model"] == "FE-20"
    status = csms.messages("StatusNotification")[0]
    assert status["connectorStatus"] == "Available"
    beats = [t for _, a, _, t in csms.received if a == "Heartbeat"]
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    assert all(gap >= 0.9 for gap in gaps), gaps


async def test_boot_pending_is_retried_until_accepted(
        csms: MiniCsms, run_station: StationFactory) -> None:
    csms.boot_status = "Pending"
    csms.heartbeat_interval = 1
    run_station("SIM1")
    await csms.wait_for(lambda: len(csms.messages("BootNotification")) >= 2)
    assert not csms.messages("StatusNotification")  # nothing else while Pending (B02)
    csms.boot_status = "Accepted"
    await csms.wait_for(lambda: csms.messages("StatusNotification"))


async def test_tc_e_transaction_events_carry_consecutive_seq_no_and_trigger_reasons(
        csms: MiniCsms, run_station: StationFactory) -> None:
    station = run_station("SIM1", visit=leaf_visit(soc=0.5))
    await csms.wait_for(lambda: any(
        e["triggerReason"] == "MeterValuePeriodic" for e in csms.messages("TransactionEvent")))
    station.unplug()
    await csms.wait_for(lambda: csms.messages("StatusNotification")[-1]["connectorStatus"]
                        == "Available" and len(csms.messages("StatusNotification")) > 2)
    events = csms.messages("TransactionEvent")
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    assert len({e["transactionInfo"]["transactionId"] for e in events}) == 1
    started, authorized = events[0], events[1]
    assert (started["eventType"], started["triggerReason"]) == ("Started", "CablePluggedIn")
    assert started["evse"] == {"id": 1, "connectorId": 1}
    assert authorized["triggerReason"] == "Authorized"
    assert authorized["idToken"]["idToken"] == "SIMTOKEN"
    assert csms.messages("Authorize")[0]["idToken"]["idToken"] == "SIMTOKEN"
    charging = [e for e in events if e["triggerReason"] == "ChargingStateChanged"]
    assert charging[0]["transactionInfo"]["chargingState"] == "Charging"
    ended = events[-1]
    assert ended["triggerReason"] == "EVDeparted"
    assert ended["transactionInfo"]["stoppedReason"] == "EVDisconnected"
    assert not any(e.get("offline") for e in events)
    # Status: Occupied at plug-in, Available after departure.
    statuses = [s["connectorStatus"] for s in csms.messages("StatusNotification")]
    assert statuses == ["Available", "Occupied", "Available"]


async def test_periodic_meter_values_have_every_v2g_measurand_and_agree_with_power(
        csms: MiniCsms, run_station: StationFactory) -> None:
    run_station("SIM1", visit=leaf_visit(soc=0.5))
    periodic = await csms.wait_for(lambda: [
        e for e in csms.messages("TransactionEvent")
        if e["triggerReason"] == "MeterValuePeriodic"][3:])
    values = {v["measurand"]: v for v in periodic[-1]["meterValue"][0]["sampledValue"]}
    assert set(values) >= {"Energy.Active.Import.Register", "Energy.Active.Export.Register",
                           "Power.Active.Import", "Power.Active.Export", "SoC",
                           "Current.Import", "Current.Export", "Voltage"}
    assert values["SoC"]["unitOfMeasure"]["unit"] == "Percent"
    # Charging at full power: 20 kW, so the import register grows by about 20 kW x dt.
    assert abs(values["Power.Active.Import"]["value"] - 20_000) < 200
    assert values["Power.Active.Export"]["value"] == 0
    volts = values["Voltage"]["value"]
    assert abs(values["Current.Import"]["value"] * volts - 20_000) < 200


async def test_notify_ev_charging_needs_at_plug_in_2_1_has_v2x_parameters(
        csms: MiniCsms, run_station: StationFactory) -> None:
    run_station("SIM21", version="2.1", visit=leaf_visit(soc=0.5, floor=0.3))
    needs = (await csms.wait_for(lambda: csms.messages("NotifyEVChargingNeeds")))[0]
    params = needs["chargingNeeds"]["v2xChargingParameters"]
    assert needs["chargingNeeds"]["requestedEnergyTransfer"] == "DC_BPT"
    assert params["maxDischargePower"] == 20_000
    # 20 % of 39 kWh above the 30 % floor: the V2X minimum is negative (already above it).
    assert params["evMinV2XEnergyRequest"] == -7800
    assert "departureTime" in needs["chargingNeeds"]
