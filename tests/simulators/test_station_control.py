"""CSMS-initiated calls: device model, reports, trigger, availability, remote start/stop, reset."""

from __future__ import annotations

from typing import Any

from tests.simulators.conftest import StationFactory, leaf_visit
from tests.simulators.minicsms import MiniCsms
from tests.simulators.test_station_offline import _until


def _var(component: str, variable: str, **extra: Any) -> dict[str, Any]:
    return {"component": {"name": component}, "variable": {"name": variable}, **extra}


async def test_tc_b_get_and_set_variables(csms: MiniCsms, run_station: StationFactory) -> None:
    station = run_station("SIM1", password="a-very-secret-password")
    got = (await csms.call("SIM1", "GetVariables", {"getVariableData": [
        _var("OCPPCommCtrlr", "HeartbeatInterval"),
        _var("SecurityCtrlr", "BasicAuthPassword"),
        _var("NoSuchCtrlr", "Enabled"),
        _var("SmartChargingCtrlr", "NoSuchVariable"),
        _var("SampledDataCtrlr", "TxUpdatedInterval", attributeType="Target"),
    ]}))["getVariableResult"]
    assert [r["attributeStatus"] for r in got] == [
        "Accepted", "Rejected", "UnknownComponent", "UnknownVariable",
        "NotSupportedAttributeType"]
    assert got[0]["attributeValue"] == "60"  # the interval the CSMS gave at boot
    assert "attributeValue" not in got[1]  # write-only
    set_ = (await csms.call("SIM1", "SetVariables", {"setVariableData": [
        _var("SampledDataCtrlr", "TxUpdatedInterval", attributeValue="5"),
        _var("OCPPCommCtrlr", "HeartbeatInterval", attributeValue="soon"),
        _var("SecurityCtrlr", "SecurityProfile", attributeValue="3"),
        _var("SecurityCtrlr", "BasicAuthPassword", attributeValue="another-long-password"),
    ]}))["setVariableResult"]
    assert [r["attributeStatus"] for r in set_] == ["Accepted", "Rejected", "Rejected",
                                                    "Accepted"]
    # A01: with a new password the station logs in again.
    await _until(lambda: station.stats.connects == 2 and station.online)
    again = (await csms.call("SIM1", "GetVariables", {"getVariableData": [
        _var("SampledDataCtrlr", "TxUpdatedInterval")]}))["getVariableResult"]
    assert again[0]["attributeValue"] == "5"


async def test_tc_b_get_base_report_arrives_in_numbered_parts(
        csms: MiniCsms, run_station: StationFactory) -> None:
    run_station("SIM21", version="2.1")
    answer = await csms.call("SIM21", "GetBaseReport", {"requestId": 3,
                                                        "reportBase": "FullInventory"})
    assert answer["status"] == "Accepted"
    parts = await csms.wait_for(lambda: (r := csms.messages("NotifyReport")) and
                                not r[-1]["tbc"] and r)
    assert [p["seqNo"] for p in parts] == list(range(len(parts)))
    assert len(parts) > 1
    assert all(p["tbc"] for p in parts[:-1])
    entries = [e for p in parts for e in p["reportData"]]
    names = {e["component"]["name"] for e in entries}
    assert {"SmartChargingCtrlr", "SampledDataCtrlr", "OCPPCommCtrlr", "SecurityCtrlr",
            "V2XChargingCtrlr", "EVSE", "Connector"} <= names
    password = next(e for e in entries if e["variable"]["name"] == "BasicAuthPassword")
    assert "value" not in password["variableAttribute"][0]
    connector = next(e for e in entries if e["component"]["name"] == "Connector"
                     and e["variable"]["name"] == "ConnectorType")
    assert connector["variableAttribute"][0]["value"] == "cG105"


async def test_trigger_message_and_transaction_status(
        csms: MiniCsms, run_station: StationFactory) -> None:
    run_station("SIM1", visit=leaf_visit())
    started = await csms.wait_for(lambda: [e for e in csms.messages("TransactionEvent")
                                           if e["triggerReason"] == "Authorized"])
    tx_id = started[0]["transactionInfo"]["transactionId"]
    before = len(csms.messages("StatusNotification"))
    assert (await csms.call("SIM1", "TriggerMessage", {
        "requestedMessage": "StatusNotification"}))["status"] == "Accepted"
    await csms.wait_for(lambda: len(csms.messages("StatusNotification")) > before)
    assert (await csms.call("SIM1", "TriggerMessage", {
        "requestedMessage": "BootNotification"}))["status"] == "Rejected"
    assert (await csms.call("SIM1", "TriggerMessage", {
        "requestedMessage": "MeterValues"}))["status"] == "Accepted"
    meter = (await csms.wait_for(lambda: csms.messages("MeterValues")))[0]
    assert meter["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
    status = await csms.call("SIM1", "GetTransactionStatus", {"transactionId": tx_id})
    assert status == {"messagesInQueue": False, "ongoingIndicator": True}
    unlock = await csms.call("SIM1", "UnlockConnector", {"evseId": 1, "connectorId": 1})
    assert unlock["status"] == "OngoingAuthorizedTransaction"
    unknown = await csms.call("SIM1", "UnlockConnector", {"evseId": 2, "connectorId": 1})
    assert unknown["status"] == "UnknownConnector"


async def test_tc_f_remote_stop_then_remote_start_and_scheduled_availability(
        csms: MiniCsms, run_station: StationFactory) -> None:
    run_station("SIM1", visit=leaf_visit())
    first = (await csms.wait_for(lambda: csms.messages("TransactionEvent")))[0]
    tx_id = first["transactionInfo"]["transactionId"]
    change = await csms.call("SIM1", "ChangeAvailability", {"operationalStatus": "Inoperative"})
    assert change["status"] == "Scheduled"  # a transaction is running
    assert (await csms.call("SIM1", "RequestStopTransaction",
                            {"transactionId": "nope"}))["status"] == "Rejected"
    assert (await csms.call("SIM1", "RequestStopTransaction",
                            {"transactionId": tx_id}))["status"] == "Accepted"
    ended = (await csms.wait_for(lambda: [e for e in csms.messages("TransactionEvent")
                                          if e["eventType"] == "Ended"]))[0]
    assert (ended["triggerReason"], ended["transactionInfo"]["stoppedReason"]) == (
        "RemoteStop", "Remote")
    await csms.wait_for(lambda: csms.messages("StatusNotification")[-1]["connectorStatus"]
                        == "Unavailable")
    refused = await csms.call("SIM1", "RequestStartTransaction", {
        "remoteStartId": 5, "idToken": {"idToken": "OPERATOR", "type": "Central"}})
    assert refused["status"] == "Rejected"  # inoperative
    assert (await csms.call("SIM1", "ChangeAvailability", {
        "operationalStatus": "Operative"}))["status"] == "Accepted"
    start = await csms.call("SIM1", "RequestStartTransaction", {
        "remoteStartId": 5, "idToken": {"idToken": "OPERATOR", "type": "Central"}})
    assert start["status"] == "Accepted"
    events = await csms.wait_for(lambda: [
        e for e in csms.messages("TransactionEvent")
        if e["transactionInfo"]["transactionId"] == start["transactionId"]][:2] or None)
    assert events[0]["eventType"] == "Started"
    assert events[0]["triggerReason"] == "RemoteStart"
    assert events[0]["transactionInfo"]["remoteStartId"] == 5
    assert events[0]["seqNo"] == 0


async def test_tc_b_reset_immediate_ends_the_transaction_and_reboots(
        csms: MiniCsms, run_station: StationFactory) -> None:
    run_station("SIM1", visit=leaf_visit())
    await csms.wait_for(lambda: [e for e in csms.messages("TransactionEvent")
                                 if e["triggerReason"] == "Authorized"])
    assert (await csms.call("SIM1", "Reset", {"type": "Immediate"}))["status"] == "Accepted"
    boots = await csms.wait_for(lambda: (b := csms.messages("BootNotification"))[1:] and b)
    assert boots[1]["reason"] == "RemoteReset"
    ended = next(e for e in csms.messages("TransactionEvent") if e["eventType"] == "Ended")
    assert ended["transactionInfo"]["stoppedReason"] == "ImmediateReset"
    # The car is still plugged in: a new transaction starts after the reboot.
    await csms.wait_for(lambda: [e for e in csms.messages("TransactionEvent")
                                 if e["triggerReason"] == "EVDetected"])
