"""Functional block K (smart charging), station -> CSMS: NotifyEVChargingNeeds,
NotifyEVChargingSchedule, NotifyChargingLimit, ClearedChargingLimit, ReportChargingProfiles, and
(2.1) PullDynamicScheduleUpdate and NotifyPriorityCharging. The CSMS -> station side is
:mod:`csms.operations.profiles`.

What the station reports is stored, and reported profiles are recorded as installed. On
NotifyEVChargingNeeds the CSMS also plans a TxProfile that meets the need by departure and queues
it as a command once the answer is on its way, so that the station receives the answer first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from csms.blocks.notifications import keep
from csms.blocks.payload import optional_time, status_info, time_field
from csms.blocks.station_context import StationContext
from csms.operations import Operations, Outcome
from csms.operations.profiles import load_view, send_profile
from csms.smartcharging import (
    ProfileFormatError,
    ProfileRuleError,
    need_model,
    parse_charging_needs,
)
from csms.store import charging

#: Stack level of the TxProfile that meets an EV's charging need by departure.
NEED_STACK_LEVEL = 0
#: Power assumed when an EV states no maximum: the need's own average rate is then used as is.
NO_EV_MAXIMUM_W = 1_000_000.0

async def notify_ev_charging_needs(
    ctx: StationContext, payload: dict[str, Any]
) -> dict[str, Any]:
    """Store what the EV needs (K15, K17: departure time, energy, V2X limits) and accept it.

    When a transaction runs on the EVSE, a TxProfile that meets the need by departure is
    planned now and queued as a command once this answer is on its way (ISO15118SmartCharging:
    response first, then SetChargingProfile with the transactionId). A need without a
    departure time or an energy amount gets a schedule from what is known: the most the EV may
    take, until its departure if it gave one (K15.FR.02/03/05, K16.FR.06).
    """
    needs = payload["chargingNeeds"]
    await charging.store_charging_needs(
        ctx.pool,
        ctx.station_id,
        payload["evseId"],
        needs,
        payload.get("maxScheduleTuples"),
        optional_time(needs.get("departureTime"), "chargingNeeds.departureTime"),
    )
    if ctx.operations is not None:
        ctx.operations.later(_answer_need(ctx, ctx.operations, payload))
    return {"status": "Accepted"}


async def _answer_need(ctx: StationContext, ops: Operations, payload: dict[str, Any]) -> None:
    """Plan the TxProfile meeting a NotifyEVChargingNeeds and queue it (logged why not)."""
    try:
        need = parse_charging_needs(payload, ctx.version)
    except ProfileFormatError as exc:
        ctx.log.warning("need_unreadable", error=str(exc))
        return
    view = await load_view(ops, ctx.station_id, need.evse_id, ctx.version)
    if isinstance(view, Outcome):
        ctx.log.info("need_without_plan", reason=view.describe())
        return
    tx = view.transaction
    if tx is None:
        ctx.log.info("need_without_plan", reason=f"no transaction on EVSE {need.evse_id}")
        return
    profile_id = (view.reusable_id(need.evse_id, tx, NEED_STACK_LEVEL)
                  or await charging.next_profile_id(ctx.pool))
    try:
        profile = need_model(
            ctx.version, transaction_id=tx, energy_wh=need.energy_wh, departure=need.departure,
            max_power_w=need.max_power_w or NO_EV_MAXIMUM_W, now=datetime.now(UTC),
            profile_id=profile_id, stack_level=NEED_STACK_LEVEL)
    except (ProfileRuleError, ValueError) as exc:
        ctx.log.warning("need_without_plan", reason=str(exc))
        return
    outcome = await send_profile(ops, view, need.evse_id, profile)
    if outcome.ok:
        ctx.log.info("need_profile_installed", profile_id=profile_id)
    else:
        ctx.log.warning("need_profile_not_installed", profile_id=profile_id,
                        reason=outcome.describe())


async def notify_ev_charging_schedule(
    ctx: StationContext, payload: dict[str, Any]
) -> dict[str, Any]:
    """Store the schedule the EV computed (K17) and accept it."""
    extra = {
        k: v
        for k, v in payload.items()
        if k not in {"timeBase", "chargingSchedule", "evseId", "customData"}
    }
    await charging.store_ev_charging_schedule(
        ctx.pool,
        ctx.station_id,
        payload["evseId"],
        time_field(payload["timeBase"], "timeBase"),
        payload["chargingSchedule"],
        extra or None,
    )
    return {"status": "Accepted"}


async def notify_charging_limit(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Store an external charging limit the station received (K12)."""
    await charging.store_charging_limit(
        ctx.pool,
        ctx.station_id,
        payload.get("evseId"),
        payload["chargingLimit"],
        payload.get("chargingSchedule"),
    )
    return {}


async def cleared_charging_limit(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Mark the station's external limits of that source cleared (K13)."""
    await charging.clear_charging_limits(
        ctx.pool, ctx.station_id, payload["chargingLimitSource"], payload.get("evseId")
    )
    return {}


async def report_charging_profiles(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Store the profiles a station reports for a GetChargingProfiles request (K09), and record
    them as installed (a profile with the same id replaces the CSMS's entry)."""
    await charging.store_reported_profiles(
        ctx.pool,
        ctx.station_id,
        payload["requestId"],
        payload["chargingLimitSource"],
        payload["evseId"],
        payload["chargingProfile"],
        payload.get("tbc", False),
        version=ctx.version,
    )
    return {}


async def pull_dynamic_schedule_update(
    ctx: StationContext, payload: dict[str, Any]
) -> dict[str, Any]:
    """Answer a station's request for a dynamic schedule update (2.1 K29): none is held."""
    return {
        "status": "Rejected",
        "statusInfo": status_info(
            "UnknownProfile",
            f"No dynamic schedule update is held for charging profile "
            f"{payload['chargingProfileId']}.",
        ),
    }


HANDLERS = {
    "NotifyEVChargingNeeds": notify_ev_charging_needs,
    "NotifyEVChargingSchedule": notify_ev_charging_schedule,
    "NotifyChargingLimit": notify_charging_limit,
    "ClearedChargingLimit": cleared_charging_limit,
    "ReportChargingProfiles": report_charging_profiles,
}

HANDLERS_V21 = {
    "PullDynamicScheduleUpdate": pull_dynamic_schedule_update,
    # Priority charging activated or ended for a transaction: kept as received.
    "NotifyPriorityCharging": keep("NotifyPriorityCharging"),
}
