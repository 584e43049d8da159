"""Functional block E, transactions: TransactionEvent.

TransactionEvents can never be rejected (E01.FR.xx). A repeated one (same transaction, seqNo
and content) is answered again without being stored twice; a different event that reuses a
seqNo is stored like any other; queued events that arrive late with ``offline: true`` are folded
in by (timestamp, seqNo) without overwriting newer live state. See docs/interop.md.
"""

from __future__ import annotations

from typing import Any

from csms.blocks.authorization import lookup_token_info
from csms.blocks.metering import samples_from, warn_unconvertible
from csms.blocks.payload import time_field
from csms.blocks.reservations import reservation_used
from csms.blocks.station_context import StationContext
from csms.blocks.tariffs import final_cost
from csms.store import batch
from csms.store.transactions import TxEvent


def tx_event(payload: dict[str, Any]) -> TxEvent:
    """The stored form of a TransactionEventRequest (without its meter values)."""
    info = payload["transactionInfo"]
    evse = payload.get("evse") or {}
    id_token = payload.get("idToken") or {}
    timestamp = time_field(payload["timestamp"], "timestamp")
    return TxEvent(
        transaction_id=info["transactionId"],
        seq_no=payload["seqNo"],
        event_type=payload["eventType"],
        timestamp=timestamp,
        trigger_reason=payload["triggerReason"],
        offline=payload.get("offline", False),
        charging_state=info.get("chargingState"),
        stopped_reason=info.get("stoppedReason"),
        evse_id=evse.get("id"),
        connector_id=evse.get("connectorId"),
        id_token=id_token.get("idToken"),
        id_token_type=id_token.get("type"),
        remote_start_id=info.get("remoteStartId"),
        reservation_id=payload.get("reservationId"),
        payload={k: v for k, v in payload.items() if k != "meterValue"},
    )


async def transaction_event(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Store the event and its meter values, then answer; with an idToken, the answer carries
    its idTokenInfo (E01.FR.xx, C01); an Ended event's answer carries the transaction's final
    cost when a tariff applies (I03). An event carrying a reservationId uses it up (H03)."""
    event = tx_event(payload)
    samples = samples_from(payload.get("meterValue", []), event.evse_id, event.transaction_id)
    warn_unconvertible(ctx, samples)
    # Committed together with other stations' writes, before the answer (group commit).
    stored = await batch.writer(ctx.pool).transaction_event(ctx.station_id, event, samples)
    # Periodic updates are the bulk of a fleet's traffic: log them at debug level only.
    (ctx.log.debug if event.event_type == "Updated" and stored else ctx.log.info)(
        "transaction_event",
        transaction_id=event.transaction_id,
        event_type=event.event_type,
        seq_no=event.seq_no,
        offline=event.offline,
        repeated=not stored,
    )
    if stored and event.reservation_id is not None:
        await reservation_used(ctx, event.reservation_id, event.transaction_id)
    response: dict[str, Any] = {}
    if "idToken" in payload:
        response["idTokenInfo"] = await lookup_token_info(ctx.pool, payload["idToken"])
    if event.event_type == "Ended":
        cost = await final_cost(ctx, event.transaction_id)  # I03
        if cost is not None:
            response["totalCost"] = cost
    return response


HANDLERS = {"TransactionEvent": transaction_event}
