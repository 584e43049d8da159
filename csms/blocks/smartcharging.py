"""Functional block K, smart charging, station -> CSMS: NotifyEVChargingNeeds,
NotifyEVChargingSchedule, NotifyChargingLimit, ClearedChargingLimit, ReportChargingProfiles,
and (2.1) PullDynamicScheduleUpdate and NotifyPriorityCharging.

What the station reports is stored; building and sending profiles is the smart-charging
package's job.
"""

from __future__ import annotations

from typing import Any

from csms.blocks.context import StationContext
from csms.blocks.wire import optional_time, status_info, time_field
from csms.store import charging, reports


async def notify_ev_charging_needs(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Store what the EV needs (K15, K17: departure time, energy, V2X limits) and accept it."""
    needs = payload["chargingNeeds"]
    await charging.store_charging_needs(
        ctx.pool,
        ctx.station_id,
        payload["evseId"],
        needs,
        payload.get("maxScheduleTuples"),
        optional_time(needs.get("departureTime"), "chargingNeeds.departureTime"),
    )
    return {"status": "Accepted"}


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
    """Store the profiles a station reports for a GetChargingProfiles request (K09)."""
    await charging.store_reported_profiles(
        ctx.pool,
        ctx.station_id,
        payload["requestId"],
        payload["chargingLimitSource"],
        payload["evseId"],
        payload["chargingProfile"],
        payload.get("tbc", False),
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


async def notify_priority_charging(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Store that priority charging was activated or ended for a transaction (2.1)."""
    await reports.store_notification(ctx.pool, ctx.station_id, "NotifyPriorityCharging", payload)
    return {}


HANDLERS = {
    "NotifyEVChargingNeeds": notify_ev_charging_needs,
    "NotifyEVChargingSchedule": notify_ev_charging_schedule,
    "NotifyChargingLimit": notify_charging_limit,
    "ClearedChargingLimit": cleared_charging_limit,
    "ReportChargingProfiles": report_charging_profiles,
}

HANDLERS_V21 = {
    "PullDynamicScheduleUpdate": pull_dynamic_schedule_update,
    "NotifyPriorityCharging": notify_priority_charging,
}
