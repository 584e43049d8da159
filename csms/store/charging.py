"""What stations report about charging: EV charging needs and schedules, external charging
limits, and the charging profiles they have installed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.store.db import Db


@dataclass
class ChargingNeeds:
    """The latest NotifyEVChargingNeeds of an EVSE."""

    station_id: str
    evse_id: int
    requested_energy_transfer: str
    departure_time: datetime | None
    max_schedule_tuples: int | None
    charging_needs: dict[str, Any]
    received_at: datetime


async def store_charging_needs(
    db: Db,
    station_id: str,
    evse_id: int,
    charging_needs: dict[str, Any],
    max_schedule_tuples: int | None,
    departure_time: datetime | None,
) -> None:
    """Store an EV's charging needs (the whole chargingNeeds object, plus the fields read most)."""
    await db.execute(
        """
        INSERT INTO ev_charging_needs (station_id, evse_id, requested_energy_transfer,
            departure_time, max_schedule_tuples, charging_needs)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        station_id,
        evse_id,
        charging_needs["requestedEnergyTransfer"],
        departure_time,
        max_schedule_tuples,
        charging_needs,
    )


async def latest_charging_needs(db: Db, station_id: str, evse_id: int) -> ChargingNeeds | None:
    """The most recent charging needs reported for an EVSE, or None."""
    row = await db.fetchrow(
        """
        SELECT station_id, evse_id, requested_energy_transfer, departure_time,
               max_schedule_tuples, charging_needs, received_at
          FROM ev_charging_needs WHERE station_id = $1 AND evse_id = $2 ORDER BY id DESC LIMIT 1
        """,
        station_id,
        evse_id,
    )
    return ChargingNeeds(**dict(row)) if row else None


async def store_ev_charging_schedule(
    db: Db,
    station_id: str,
    evse_id: int,
    time_base: datetime,
    charging_schedule: dict[str, Any],
    extra: dict[str, Any] | None,
) -> None:
    """Store the schedule an EV reported (NotifyEVChargingSchedule)."""
    await db.execute(
        """
        INSERT INTO ev_charging_schedules (station_id, evse_id, time_base, charging_schedule,
                                           extra)
        VALUES ($1, $2, $3, $4, $5)
        """,
        station_id,
        evse_id,
        time_base,
        charging_schedule,
        extra,
    )


async def latest_ev_charging_schedule(
    db: Db, station_id: str, evse_id: int
) -> dict[str, Any] | None:
    """The most recent EV charging schedule of an EVSE (time_base, charging_schedule), or None."""
    row = await db.fetchrow(
        """
        SELECT time_base, charging_schedule, extra, received_at FROM ev_charging_schedules
         WHERE station_id = $1 AND evse_id = $2 ORDER BY id DESC LIMIT 1
        """,
        station_id,
        evse_id,
    )
    return dict(row) if row else None


async def store_charging_limit(
    db: Db,
    station_id: str,
    evse_id: int | None,
    charging_limit: dict[str, Any],
    charging_schedules: list[dict[str, Any]] | None,
) -> None:
    """Store an external charging limit a station reported (NotifyChargingLimit)."""
    await db.execute(
        """
        INSERT INTO charging_limits (station_id, evse_id, charging_limit_source, is_grid_critical,
                                     charging_limit, charging_schedules)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        station_id,
        evse_id,
        charging_limit["chargingLimitSource"],
        charging_limit.get("isGridCritical"),
        charging_limit,
        charging_schedules,
    )


async def clear_charging_limits(db: Db, station_id: str, source: str, evse_id: int | None) -> int:
    """Mark the open limits of a source cleared (of one EVSE, or all if ``evse_id`` is None);
    return how many were open."""
    status = await db.execute(
        """
        UPDATE charging_limits SET cleared_at = now()
         WHERE station_id = $1 AND charging_limit_source = $2 AND cleared_at IS NULL
           AND ($3::integer IS NULL OR evse_id = $3)
        """,
        station_id,
        source,
        evse_id,
    )
    return int(status.split()[-1])


async def open_charging_limits(db: Db, station_id: str) -> list[dict[str, Any]]:
    """A station's external charging limits that have not been cleared, oldest first."""
    rows = await db.fetch(
        """
        SELECT evse_id, charging_limit_source, is_grid_critical, charging_limit,
               charging_schedules, received_at
          FROM charging_limits WHERE station_id = $1 AND cleared_at IS NULL ORDER BY id
        """,
        station_id,
    )
    return [dict(r) for r in rows]


async def store_reported_profiles(
    db: Db,
    station_id: str,
    request_id: int,
    charging_limit_source: str,
    evse_id: int,
    profiles: Sequence[dict[str, Any]],
    tbc: bool,
) -> None:
    """Store the profiles of one ReportChargingProfiles message."""
    await db.executemany(
        """
        INSERT INTO reported_charging_profiles (station_id, request_id, charging_limit_source,
            evse_id, profile_id, stack_level, purpose, profile, tbc)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        """,
        [
            (station_id, request_id, charging_limit_source, evse_id, p["id"], p.get("stackLevel"),
             p.get("chargingProfilePurpose"), p, tbc)
            for p in profiles
        ],
    )


async def reported_profiles(db: Db, station_id: str, request_id: int) -> list[dict[str, Any]]:
    """The profiles a station reported for one GetChargingProfiles request, in arrival order.

    Each item has evse_id, charging_limit_source and profile (the ChargingProfileType object).
    """
    rows = await db.fetch(
        """
        SELECT evse_id, charging_limit_source, profile FROM reported_charging_profiles
         WHERE station_id = $1 AND request_id = $2 ORDER BY id
        """,
        station_id,
        request_id,
    )
    return [dict(r) for r in rows]
