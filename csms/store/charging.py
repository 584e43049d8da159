"""What stations report about charging: EV charging needs and schedules, external charging
limits, and the charging profiles they have installed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.store.db import Db, connection


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


async def latest_charging_needs(db: Db, station_id: str) -> list[ChargingNeeds]:
    """The most recent charging needs reported for each of a station's EVSEs, by EVSE id."""
    rows = await db.fetch(
        """
        SELECT DISTINCT ON (evse_id) station_id, evse_id, requested_energy_transfer,
               departure_time, max_schedule_tuples, charging_needs, received_at
          FROM ev_charging_needs WHERE station_id = $1 ORDER BY evse_id, id DESC
        """,
        station_id,
    )
    return [ChargingNeeds(**dict(r)) for r in rows]


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
        SELECT id, evse_id, charging_limit_source, is_grid_critical, charging_limit,
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
    *,
    version: str,
) -> None:
    """Store the profiles of one ReportChargingProfiles message (of OCPP ``version``) and record
    them as installed, in one transaction: a profile with the same id replaces the CSMS's
    entry."""
    async with connection(db) as conn, conn.transaction():
        await conn.executemany(
            """
            INSERT INTO reported_charging_profiles (station_id, request_id, charging_limit_source,
                evse_id, profile_id, stack_level, purpose, profile, tbc)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            """,
            [
                (station_id, request_id, charging_limit_source, evse_id, p["id"],
                 p.get("stackLevel"), p.get("chargingProfilePurpose"), p, tbc)
                for p in profiles
            ],
        )
        await conn.executemany(_UPSERT, [
            _upsert_args(station_id, evse_id, charging_limit_source, "report", version, p)
            for p in profiles
        ])


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


# -- what the CSMS believes is installed on each station -------------------------------------


@dataclass
class InstalledRow:
    """One profile the CSMS believes is installed: where, who set it, and its wire form."""

    station_id: str
    profile_id: int
    evse_id: int
    source: str
    origin: str
    version: str
    profile: dict[str, Any]
    updated_at: datetime


_INSTALLED_COLUMNS = ("station_id, profile_id, evse_id, source, origin, version, profile, "
                      "updated_at")


async def active_transaction(
    db: Db, station_id: str, evse_id: int
) -> tuple[str, datetime | None] | None:
    """The newest transaction running on an EVSE: (transaction id, start time), or None."""
    row = await db.fetchrow(
        """
        SELECT transaction_id, started_at FROM transactions
         WHERE station_id = $1 AND evse_id = $2 AND ended_at IS NULL
         ORDER BY started_at DESC NULLS LAST LIMIT 1
        """,
        station_id, evse_id,
    )
    return None if row is None else (row["transaction_id"], row["started_at"])


async def next_profile_id(db: Db) -> int:
    """A fresh charging-profile id for a profile the CSMS creates."""
    return int(await db.fetchval("SELECT nextval('charging_profile_ids')"))


async def record_pending_profile(
    db: Db, command_id: int, station_id: str, evse_id: int, version: str, profile: dict[str, Any]
) -> None:
    """Remember a SetChargingProfile command until its answer says whether it was installed."""
    await db.execute(
        """
        INSERT INTO pending_charging_profiles (command_id, station_id, evse_id, version, profile)
        VALUES ($1, $2, $3, $4, $5)
        """,
        command_id, station_id, evse_id, version, profile,
    )


_UPSERT = """
    INSERT INTO installed_charging_profiles (station_id, profile_id, evse_id, source, origin,
        version, purpose, stack_level, transaction_id, profile)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (station_id, profile_id) DO UPDATE SET evse_id = $3, source = $4, origin = $5,
        version = $6, purpose = $7, stack_level = $8, transaction_id = $9, profile = $10,
        updated_at = now()
"""


def _upsert_args(
    station_id: str, evse_id: int, source: str, origin: str, version: str, p: dict[str, Any]
) -> tuple[Any, ...]:
    return (station_id, p["id"], evse_id, source, origin, version,
            p["chargingProfilePurpose"], p["stackLevel"], p.get("transactionId"), p)


async def settle_pending_profiles(db: Db, station_id: str) -> int:
    """Move answered SetChargingProfile commands out of pending; return how many were installed.

    Only a command answered with status Accepted installs its profile; a rejection, CALLERROR,
    timeout, offline station or disconnect drops it.
    """
    async with connection(db) as conn, conn.transaction():
        rows = await conn.fetch(
            """
            DELETE FROM pending_charging_profiles p USING commands c
             WHERE p.station_id = $1 AND c.id = p.command_id
               AND c.status NOT IN ('pending', 'sent')
            RETURNING p.evse_id, p.version, p.profile,
                      (c.status = 'answered' AND c.response->>'status' = 'Accepted') AS accepted
            """,
            station_id,
        )
        accepted = [r for r in rows if r["accepted"]]
        await conn.executemany(_UPSERT, [
            _upsert_args(station_id, r["evse_id"], "CSO", "set", r["version"], r["profile"])
            for r in accepted
        ])
    return len(accepted)


async def prune_installed(db: Db, station_id: str) -> int:
    """Forget TxProfiles of transactions that have ended (the station deletes them too).

    Returns how many were removed.
    """
    status = await db.execute(
        """
        DELETE FROM installed_charging_profiles i USING transactions t
         WHERE i.station_id = $1 AND i.purpose = 'TxProfile' AND t.station_id = i.station_id
           AND t.transaction_id = i.transaction_id AND t.ended_at IS NOT NULL
        """,
        station_id,
    )
    return int(status.split()[-1])


async def installed_profiles(db: Db, station_id: str) -> list[InstalledRow]:
    """The profiles the CSMS believes are installed on a station, by EVSE and profile id."""
    rows = await db.fetch(
        f"SELECT {_INSTALLED_COLUMNS} FROM installed_charging_profiles WHERE station_id = $1"
        " ORDER BY evse_id, profile_id",
        station_id,
    )
    return [InstalledRow(**dict(r)) for r in rows]


async def remove_installed(
    db: Db,
    station_id: str,
    *,
    profile_id: int | None = None,
    evse_id: int | None = None,
    purpose: str | None = None,
    stack_level: int | None = None,
) -> int:
    """Forget the profiles a ClearChargingProfile selects; return how many.

    With ``profile_id`` only that profile; otherwise all matching the given criteria. External
    constraints are never cleared by the CSMS (K10) and stay.
    """
    status = await db.execute(
        """
        DELETE FROM installed_charging_profiles
         WHERE station_id = $1 AND purpose <> 'ChargingStationExternalConstraints'
           AND ($2::integer IS NULL OR profile_id = $2)
           AND ($2::integer IS NOT NULL OR (
                ($3::integer IS NULL OR evse_id = $3)
                AND ($4::text IS NULL OR purpose = $4)
                AND ($5::integer IS NULL OR stack_level = $5)))
        """,
        station_id, profile_id, evse_id, purpose, stack_level,
    )
    return int(status.split()[-1])


async def replace_installed(
    db: Db, station_id: str, version: str, reported: Sequence[tuple[int, str, dict[str, Any]]]
) -> None:
    """Make the belief exactly what the station reported: (evse id, source, profile) triples."""
    async with connection(db) as conn, conn.transaction():
        await conn.execute("DELETE FROM installed_charging_profiles WHERE station_id = $1",
                           station_id)
        await conn.executemany(_UPSERT, [
            _upsert_args(station_id, evse, source, "report", version, p)
            for evse, source, p in reported
        ])


async def report_complete(db: Db, station_id: str, request_id: int) -> bool:
    """Whether the last ReportChargingProfiles of a request (tbc false) has arrived."""
    return bool(await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM reported_charging_profiles WHERE station_id = $1"
        " AND request_id = $2 AND NOT tbc)",
        station_id, request_id,
    ))
