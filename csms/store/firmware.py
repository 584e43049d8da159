"""Firmware campaigns and each station's update: what was sent, how the station answered, the
progress it reported (L01, L02) and the firmware it booted with afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.store.answers import (
    cancel_superseded,
    late_answers,
    link_command,
    record_request_status,
)
from csms.store.db import Db, connection

#: FirmwareStatusNotification statuses after which the station will not reboot for the update.
FAILED_BEFORE_INSTALL = ("DownloadFailed", "InvalidSignature", "InstallVerificationFailed")
#: FirmwareStatusNotification statuses that end an update (it can no longer be cancelled).
FINAL_STATUSES = ("Installed", "InstallationFailed", *FAILED_BEFORE_INSTALL)

_TABLE = "firmware_updates"


@dataclass(frozen=True)
class Campaign:
    """One ``csms firmware update``: the firmware and when to fetch and install it."""

    id: int
    location: str
    retrieve_at: datetime
    created_at: datetime
    install_at: datetime | None = None
    signature: str | None = None
    signing_certificate: str | None = None
    retries: int | None = None
    retry_interval: int | None = None
    queue_until: datetime | None = None


@dataclass(frozen=True)
class StationUpdate:
    """One station's part in a campaign."""

    station_id: str
    request_id: int
    campaign_id: int
    command_id: int | None
    firmware_before: str | None
    answer: str | None
    answer_reason: str | None
    answered_at: datetime | None
    status: str | None
    status_info: dict[str, Any] | None
    status_at: datetime | None
    canceled_by: int | None
    booted_at: datetime | None
    boot_reason: str | None
    firmware_after: str | None
    created_at: datetime


@dataclass(frozen=True)
class StatusEntry:
    """One FirmwareStatusNotification as received."""

    status: str
    status_info: dict[str, Any] | None
    received_at: datetime


async def create_campaign(
    db: Db, location: str, retrieve_at: datetime, *, install_at: datetime | None = None,
    signature: str | None = None, signing_certificate: str | None = None,
    retries: int | None = None, retry_interval: int | None = None,
    queue_until: datetime | None = None,
) -> Campaign:
    """Record a new campaign and return it."""
    row = await db.fetchrow(
        """
        INSERT INTO firmware_campaigns (location, retrieve_at, install_at, signature,
            signing_certificate, retries, retry_interval, queue_until)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *
        """,
        location, retrieve_at, install_at, signature, signing_certificate, retries,
        retry_interval, queue_until)
    return Campaign(**dict(row))


async def next_request_ids(db: Db, count: int) -> list[int]:
    """``count`` fresh UpdateFirmware requestIds."""
    rows = await db.fetch(
        "SELECT nextval('firmware_request_ids')::integer FROM generate_series(1, $1)", count)
    return [r[0] for r in rows]


async def add_station(db: Db, campaign_id: int, station_id: str, request_id: int,
                      command_id: int | None, *, answer: str | None = None,
                      answer_reason: str | None = None) -> None:
    """Record a station's update in a campaign (``answer`` when it is already known, e.g.
    offline) with the firmware version it reported last."""
    await db.execute(
        """
        INSERT INTO firmware_updates (station_id, request_id, campaign_id, command_id,
            firmware_before, answer, answer_reason, answered_at)
        SELECT $1, $2, $3, $4, s.firmware_version, $5, $6,
               CASE WHEN $5::text IS NULL THEN NULL ELSE now() END
          FROM stations s WHERE s.id = $1
        """,
        station_id, request_id, campaign_id, command_id, answer, answer_reason)


async def set_command(db: Db, station_id: str, request_id: int, command_id: int) -> None:
    """Link an update to the command that carries it."""
    await link_command(db, _TABLE, station_id, request_id, command_id)


async def record_answer(db: Db, station_id: str, request_id: int, answer: str,
                        reason: str | None) -> None:
    """Record how the UpdateFirmware call ended. A station that accepted with
    AcceptedCanceled cancelled its update in progress: that one is marked as cancelled."""
    async with connection(db) as conn, conn.transaction():
        await conn.execute(
            "UPDATE firmware_updates SET answer = $3, answer_reason = $4, answered_at = now()"
            " WHERE station_id = $1 AND request_id = $2",
            station_id, request_id, answer, reason)
        if answer == "AcceptedCanceled":
            await cancel_superseded(conn, _TABLE, "created_at", station_id, request_id,
                                    FINAL_STATUSES)


async def settle_answers(db: Db) -> int:
    """Take the answers of UpdateFirmware commands that ended after their sender stopped
    waiting (queued for an offline station, or answered late) from the command table;
    returns how many were settled."""
    late = await late_answers(db, _TABLE)
    for a in late:
        await record_answer(db, a.station_id, a.request_id, a.answer, a.reason)
    return len(late)


async def record_status(db: Db, station_id: str, request_id: int, status: str,
                        status_info: dict[str, Any] | None) -> bool:
    """Record a FirmwareStatusNotification as the latest of its update; False when no update
    of the CSMS's has that requestId. A status means the station took the request: an
    answer still unknown becomes Accepted."""
    return await record_request_status(db, _TABLE, station_id, request_id, status,
                                       status_info)


async def record_boot(db: Db, station_id: str, reason: str,
                      firmware_version: str | None) -> None:
    """A station booted: its update under way (accepted, not cancelled, not failed before
    installing) records the boot and the firmware version the station now reports."""
    await db.execute(
        """
        UPDATE firmware_updates SET booted_at = now(), boot_reason = $2, firmware_after = $3
         WHERE station_id = $1 AND booted_at IS NULL AND canceled_by IS NULL
           AND answer IN ('Accepted', 'AcceptedCanceled')
           AND coalesce(status, '') <> ALL ($4::text[])
        """,
        station_id, reason, firmware_version, list(FAILED_BEFORE_INSTALL))


_UPDATE_COLUMNS = """
    station_id, request_id, campaign_id, command_id, firmware_before, answer, answer_reason,
    answered_at, status, status_info, status_at, canceled_by, booted_at, boot_reason,
    firmware_after, created_at
"""


async def station_updates(db: Db, *, campaign_id: int | None = None,
                          station_id: str | None = None,
                          latest_only: bool = True) -> list[StationUpdate]:
    """The updates of a campaign and/or a station, oldest campaign first; with
    ``latest_only`` (and no campaign given) only each station's latest update."""
    latest = latest_only and campaign_id is None
    rows = await db.fetch(
        f"""
        SELECT {'DISTINCT ON (station_id)' if latest else ''} {_UPDATE_COLUMNS}
          FROM firmware_updates
         WHERE ($1::bigint IS NULL OR campaign_id = $1) AND ($2::text IS NULL OR station_id = $2)
         ORDER BY {'station_id, created_at DESC' if latest else 'campaign_id, station_id'}
        """,
        campaign_id, station_id)
    return [StationUpdate(**dict(r)) for r in rows]


async def get_campaign(db: Db, campaign_id: int) -> Campaign | None:
    """A campaign by id, or None."""
    row = await db.fetchrow("SELECT * FROM firmware_campaigns WHERE id = $1", campaign_id)
    return Campaign(**dict(row)) if row else None


async def list_campaigns(db: Db, limit: int = 100) -> list[Campaign]:
    """The most recent campaigns, newest first."""
    rows = await db.fetch("SELECT * FROM firmware_campaigns ORDER BY id DESC LIMIT $1", limit)
    return [Campaign(**dict(r)) for r in rows]


async def status_history(db: Db, station_id: str, request_id: int) -> list[StatusEntry]:
    """Every FirmwareStatusNotification of one update, in the order received."""
    rows = await db.fetch(
        """
        SELECT status, status_info, received_at FROM status_notifications
         WHERE station_id = $1 AND kind = 'firmware' AND request_id = $2 ORDER BY id
        """,
        station_id, request_id)
    return [StatusEntry(**dict(r)) for r in rows]
