"""Offline behaviour: reconnect with backoff and replay of queued TransactionEvents (E04)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from simulators.faults import FaultPlan
from simulators.station import Station
from tests.simulators.conftest import StationFactory, leaf_visit
from tests.simulators.minicsms import MiniCsms


async def _until(predicate: Callable[[], object], timeout: float = 15.0) -> None:
    """Poll station-side state that the CSMS cannot see (online, outbox)."""
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("condition not reached")


async def test_tc_e_offline_transaction_events_are_replayed_in_order_with_offline_flag(
        csms: MiniCsms, run_station: StationFactory) -> None:
    station: Station = run_station("SIM1", visit=leaf_visit(soc=0.5))
    await csms.wait_for(lambda: any(e["triggerReason"] == "MeterValuePeriodic"
                                    for e in csms.messages("TransactionEvent")))
    port = csms.port
    await csms.stop()
    await _until(lambda: not station.online)
    # Meter values keep coming while the CSMS is away, then the driver leaves.
    await _until(lambda: len(station.outbox) >= 2)
    station.unplug()
    queued = [o.payload["seqNo"] for o in station.outbox if o.action == "TransactionEvent"]
    assert station.stats.connects == 1
    await csms.start(port)
    await csms.wait_for(lambda: any(e["eventType"] == "Ended"
                                    for e in csms.messages("TransactionEvent")))
    assert station.stats.connects == 2
    events = csms.messages("TransactionEvent")
    seqs = [e["seqNo"] for e in events]
    assert seqs == sorted(seqs)
    assert set(seqs) == set(range(max(seqs) + 1))  # nothing lost
    replayed = [e for e in events if e.get("offline")]
    assert [e["seqNo"] for e in replayed] == queued
    assert replayed[-1]["eventType"] == "Ended"
    assert len({e["transactionInfo"]["transactionId"] for e in events}) == 1
    # The station booted again after reconnecting, and the queue drains.
    assert len(csms.messages("BootNotification")) == 2
    await _until(lambda: not station.outbox)


async def test_connection_drop_fault_reconnects_and_loses_nothing(
        csms: MiniCsms, run_station: StationFactory) -> None:
    station = run_station("SIM1", visit=leaf_visit(soc=0.5),
                          faults=FaultPlan(drops_at_s=[1.5]))
    await csms.wait_for(lambda: len(csms.messages("BootNotification")) >= 2)
    await csms.wait_for(lambda: len([e for e in csms.messages("TransactionEvent")
                                     if e["triggerReason"] == "MeterValuePeriodic"]) >= 3)
    assert station.stats.faults == {"connection_drop": 1}
    seqs = [e["seqNo"] for e in csms.messages("TransactionEvent")]
    assert set(seqs) == set(range(max(seqs) + 1))


async def test_wrong_password_is_refused_and_retried(
        csms: MiniCsms, run_station: StationFactory) -> None:
    csms.password = "correct-horse-battery-1"
    station = run_station("SIM1", password="wrong-password-123456")
    await _until(lambda: csms.rejected_auth >= 2)
    assert not csms.messages("BootNotification")
    good = run_station("SIM2", password="correct-horse-battery-1")
    await _until(lambda: good.online)
    assert not station.online


async def test_faults_reject_profiles_silence_meters_and_leave_early(
        csms: MiniCsms, run_station: StationFactory) -> None:
    faults = FaultPlan(since={"reject_profiles": 0.0, "meter_silence": 0.0,
                              "early_unplug": 2.5})
    station = run_station("SIM1", visit=leaf_visit(soc=0.5, stay_s=3600), faults=faults)
    started = (await csms.wait_for(lambda: csms.messages("TransactionEvent")))[0]
    profile = {"id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
               "chargingProfileKind": "Relative", "chargingSchedule": [{
                   "id": 1, "chargingRateUnit": "W",
                   "chargingSchedulePeriod": [{"startPeriod": 0, "limit": -5000}]}]}
    answer = await csms.call("SIM1", "SetChargingProfile", {"evseId": 1,
                                                            "chargingProfile": profile})
    assert answer["status"] == "Rejected"
    ended = await csms.wait_for(lambda: [e for e in csms.messages("TransactionEvent")
                                         if e["eventType"] == "Ended"])
    assert ended[0]["triggerReason"] == "EVDeparted"
    assert ended[0]["transactionInfo"]["transactionId"] == started[
        "transactionInfo"]["transactionId"]
    assert not [e for e in csms.messages("TransactionEvent")
                if e["triggerReason"] == "MeterValuePeriodic"]
    assert station.stats.faults["early_unplug"] == 1
    assert station.stats.faults["reject_profiles"] == 1
