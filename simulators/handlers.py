"""What a simulated station answers to CSMS-initiated calls.

Messages a handler causes (a triggered StatusNotification, the NotifyReport parts, ...) are put in
the station's outbox as the handler's last step, with no await after it: the RPC layer writes
the handler's response before the outbox can run, so the CSMS always sees the response first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from csms.ocppj import OCPPError
from simulators import locallist, reservations
from simulators.certificates import SIGN_TRIGGERS
from simulators.cost import cost_handlers
from simulators.display import display_handlers
from simulators.evse import CONNECTOR_ID, EVSE_ID, iso

if TYPE_CHECKING:
    from simulators.port import StationPort

    class Station(StationPort, Protocol):
        """What the handlers use of the station beyond its parts' port."""

        boot_now: Any
        restart_tx: Any
        reset_on_idle: Any
        pending_inoperative: Any
        outbox: Any
        profiles: Any
        firmware: Any
        diagnostics: Any
        certificates: Any
        local_list: Any
        reservations: Any

        def elapsed(self) -> float: ...

        def schedule_reset(self) -> None: ...

        def profiles_changed(self) -> None: ...

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def _status(status: str, reason: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"status": status}
    if reason is not None:
        out["statusInfo"] = {"reasonCode": reason}
    return out


def build_handlers(station: Station) -> dict[str, Handler]:
    """Handlers for every CSMS-to-station action the simulator supports."""
    evse = station.evse

    def late(handler: Handler) -> Handler:
        async def wrapped(payload: dict[str, Any]) -> dict[str, Any]:
            faults = station.config.faults
            if faults.active("late_responses", station.elapsed()):
                station.stats.fault("late_responses")
                await asyncio.sleep(faults.late_response_s)
            return await handler(payload)
        return wrapped

    async def get_variables(payload: dict[str, Any]) -> dict[str, Any]:
        return station.model.get_variables(payload)

    async def set_variables(payload: dict[str, Any]) -> dict[str, Any]:
        return station.model.set_variables(payload)

    async def get_base_report(payload: dict[str, Any]) -> dict[str, Any]:
        entries = station.model.report(payload["reportBase"])
        if not entries:
            return _status("EmptyResultSet")
        per_message = int(station.model.get("DeviceDataCtrlr", "ItemsPerMessage",
                                            instance="GetReport"))
        chunks = [entries[i:i + per_message] for i in range(0, len(entries), per_message)]
        now = iso(time.time())
        station.enqueue([("NotifyReport", {
            "requestId": payload["requestId"], "generatedAt": now, "seqNo": seq,
            "tbc": seq < len(chunks) - 1, "reportData": chunk})
            for seq, chunk in enumerate(chunks)])
        return _status("Accepted")

    async def reset(payload: dict[str, Any]) -> dict[str, Any]:
        if payload.get("evseId") not in (None, EVSE_ID):
            return _status("Rejected", "UnknownEvse")
        kind = payload["type"]
        if kind == "OnIdle" and evse.tx is not None:
            station.reset_on_idle = True  # B12: reset once the transaction has ended
            return _status("Scheduled")
        now = time.time()
        if evse.tx is not None:
            station.restart_tx = evse.visit is not None
            station.enqueue(evse.end_transaction(now, "ResetCommand", "ImmediateReset"))
        station.schedule_reset()
        return _status("Accepted")

    async def trigger_message(payload: dict[str, Any]) -> dict[str, Any]:
        requested = payload["requestedMessage"]
        target = payload.get("evse") or {}
        if target.get("id") not in (None, 0, EVSE_ID):
            return _status("Rejected", "UnknownEvse")
        now = time.time()
        messages: list[tuple[str, dict[str, Any]]]
        if requested == "BootNotification":
            if station.online:
                return _status("Rejected", "AlreadyAccepted")  # F06: boot already accepted
            station.boot_reason = "Triggered"
            station.boot_now.set()
            return _status("Accepted")
        if requested == "Heartbeat":
            messages = [("Heartbeat", {})]
        elif requested == "StatusNotification":
            messages = [evse.status_notification(now)]
        elif requested == "MeterValues":
            messages = [("MeterValues", {"evseId": EVSE_ID,
                                         "meterValue": evse.meter_values(now, "Trigger")})]
        elif requested == "TransactionEvent":
            if evse.tx is None:
                return _status("Rejected", "NoTransaction")
            messages = evse.periodic_update(now, "Trigger")
        elif requested == "FirmwareStatusNotification":
            messages = [station.firmware.status_message()]
        elif requested == "LogStatusNotification":
            messages = [station.diagnostics.log_status_message()]
        elif requested in SIGN_TRIGGERS:
            return station.certificates.trigger(requested)
        else:
            return _status("NotImplemented")
        station.enqueue(messages)
        return _status("Accepted")

    async def change_availability(payload: dict[str, Any]) -> dict[str, Any]:
        target = payload.get("evse") or {}
        if target.get("id") not in (None, 0, EVSE_ID) or target.get("connectorId") not in (
                None, CONNECTOR_ID):
            return _status("Rejected", "UnknownEvse")
        operative = payload["operationalStatus"] == "Operative"
        if not operative and evse.tx is not None:
            station.pending_inoperative = True  # G03: takes effect when the transaction ends
            return _status("Scheduled")
        station.pending_inoperative = False
        changed = evse.operative != operative
        evse.operative = operative
        if changed:
            now = time.time()
            # an EVSE taken out of service keeps no reservation (H04: Removed)
            lost = [] if operative else station.reservations.release(now, "Removed",
                                                                      notify=False)
            station.enqueue([evse.status_notification(now), *lost])
        return _status("Accepted")

    async def request_start(payload: dict[str, Any]) -> dict[str, Any]:
        if payload.get("evseId") not in (None, EVSE_ID) or not evse.operative or evse.faulted:
            return _status("Rejected", "Unavailable")
        tx = evse.tx
        if tx is not None and tx.authorized:
            return _status("Rejected", "TxInProgress")
        now = time.time()
        admitted, reservation_id, used = station.reservations.claim(
            payload["idToken"], payload.get("groupIdToken"), now)
        if not admitted:
            return _status("Rejected", "Reserved")  # H03: kept for another token
        profile = payload.get("chargingProfile")
        if tx is None:
            messages = evse.start_transaction(now, "RemoteStart",
                                              remote_start_id=payload["remoteStartId"],
                                              id_token=payload["idToken"],
                                              reservation_id=reservation_id) + used
        else:
            tx.remote_start_id = payload["remoteStartId"]
            messages = evse.authorize(now, payload["idToken"], "RemoteStart")
        assert evse.tx is not None
        if profile is not None:
            # F01: a TxProfile given with the request applies to the new transaction.
            profile = {**profile, "transactionId": evse.tx.transaction_id}
            station.profiles.install(profile, EVSE_ID, evse.tx.transaction_id)
        station.enqueue(messages)
        return {"status": "Accepted", "transactionId": evse.tx.transaction_id}

    async def request_stop(payload: dict[str, Any]) -> dict[str, Any]:
        tx = evse.tx
        if tx is None or tx.transaction_id != payload["transactionId"]:
            return _status("Rejected", "UnknownTransaction")
        station.enqueue(evse.end_transaction(time.time(), "RemoteStop", "Remote"))
        return _status("Accepted")

    async def unlock_connector(payload: dict[str, Any]) -> dict[str, Any]:
        if payload["evseId"] != EVSE_ID or payload["connectorId"] != CONNECTOR_ID:
            return _status("UnknownConnector")
        if evse.tx is not None and evse.tx.authorized:
            return _status("OngoingAuthorizedTransaction")
        return _status("Unlocked")

    async def get_transaction_status(payload: dict[str, Any]) -> dict[str, Any]:
        wanted = payload.get("transactionId")
        queued = [o for o in station.outbox if o.action == "TransactionEvent" and (
            wanted is None or o.payload["transactionInfo"]["transactionId"] == wanted)]
        out: dict[str, Any] = {"messagesInQueue": bool(queued)}
        if wanted is not None:
            out["ongoingIndicator"] = evse.tx is not None and evse.tx.transaction_id == wanted
        return out

    async def set_charging_profile(payload: dict[str, Any]) -> dict[str, Any]:
        if station.config.faults.active("reject_profiles", station.elapsed()):
            station.stats.fault("reject_profiles")
            return _status("Rejected", "Unspecified")
        tx_id = evse.tx.transaction_id if evse.tx else None
        response = station.profiles.set_request(payload, tx_id)
        station.profiles_changed()
        return response

    async def clear_charging_profile(payload: dict[str, Any]) -> dict[str, Any]:
        response = station.profiles.clear_request(payload)
        station.profiles_changed()
        return response

    async def get_charging_profiles(payload: dict[str, Any]) -> dict[str, Any]:
        reports = station.profiles.report_requests(payload)
        if not reports:
            return _status("NoProfiles")
        station.enqueue([("ReportChargingProfiles", report) for report in reports])
        return _status("Accepted")

    async def get_composite_schedule(payload: dict[str, Any]) -> dict[str, Any]:
        if payload["evseId"] not in (0, EVSE_ID):
            raise OCPPError("PropertyConstraintViolation", f"no EVSE {payload['evseId']}")
        tx_id = evse.tx.transaction_id if evse.tx else None
        return station.profiles.composite_response(payload, time.time(),
                                                   evse.train.voltage_v or 400.0, tx_id)

    handlers: dict[str, Handler] = {
        "GetVariables": get_variables,
        "SetVariables": set_variables,
        "GetBaseReport": get_base_report,
        "Reset": reset,
        "TriggerMessage": trigger_message,
        "ChangeAvailability": change_availability,
        "RequestStartTransaction": request_start,
        "RequestStopTransaction": request_stop,
        "UnlockConnector": unlock_connector,
        "GetTransactionStatus": get_transaction_status,
        "SetChargingProfile": set_charging_profile,
        "ClearChargingProfile": clear_charging_profile,
        "GetChargingProfiles": get_charging_profiles,
        "GetCompositeSchedule": get_composite_schedule,
        **station.firmware.handlers(),
        **station.diagnostics.handlers(),
        **station.certificates.handlers(),
        **display_handlers(station),
        **cost_handlers(station),
        **locallist.handlers(station.model, station.local_list),
        **reservations.handlers(station.reservations, station.enqueue),
    }
    return {action: late(handler) for action, handler in handlers.items()}
