"""Log uploads (N01): GetLog requests, their progress, the files stations uploaded, and the
upload endpoint each server node offers."""

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
from csms.store.commands import node_alive
from csms.store.db import Db, connection

#: LogStatusNotification statuses that end an upload (it can no longer be cancelled).
FINAL_STATUSES = ("Uploaded", "UploadFailure", "BadMessage", "NotSupportedOperation",
                  "PermissionDenied")

_TABLE = "log_requests"

@dataclass(frozen=True)
class UploadEndpoint:
    """Where a node accepts uploads: the base URL given to stations and its directory."""

    node_id: str
    base_url: str
    directory: str


@dataclass(frozen=True)
class LogFile:
    """A file a station uploaded."""

    id: int
    station_id: str
    request_id: int
    filename: str
    path: str
    size_bytes: int
    sha256: str
    content_type: str | None
    node_id: str | None
    remote_address: str | None
    received_at: datetime


@dataclass(frozen=True)
class LogRequest:
    """A GetLog request and what became of it."""

    station_id: str
    request_id: int
    log_type: str
    remote_location: str
    requested_at: datetime
    oldest_at: datetime | None = None
    latest_at: datetime | None = None
    command_id: int | None = None
    answer: str | None = None
    answer_reason: str | None = None
    answered_at: datetime | None = None
    filename: str | None = None
    status: str | None = None
    status_info: dict[str, Any] | None = None
    status_at: datetime | None = None
    canceled_by: int | None = None
    #: the upload goes to the CSMS's own endpoint (not to a location the operator gave)
    to_csms: bool = False
    files: tuple[LogFile, ...] = ()


@dataclass(frozen=True)
class UploadTarget:
    """The request an upload token belongs to."""

    station_id: str
    request_id: int
    log_type: str
    filename: str | None


# -- endpoints ---------------------------------------------------------------------------------

async def register_endpoint(db: Db, node_id: str, base_url: str, directory: str) -> None:
    """Record (or replace) the upload endpoint of a node."""
    await db.execute(
        """
        INSERT INTO upload_endpoints (node_id, base_url, directory) VALUES ($1, $2, $3)
        ON CONFLICT (node_id) DO UPDATE SET base_url = EXCLUDED.base_url,
            directory = EXCLUDED.directory, started_at = now()
        """,
        node_id, base_url, directory)


async def remove_endpoint(db: Db, node_id: str) -> None:
    """Forget a stopping node's endpoint."""
    await db.execute("DELETE FROM upload_endpoints WHERE node_id = $1", node_id)


async def endpoint_for(db: Db, station_id: str) -> UploadEndpoint | None:
    """The endpoint of the live node holding the station's socket, else of any live node
    (the most recently started), else None."""
    row = await db.fetchrow(
        f"""
        SELECT e.node_id, e.base_url, e.directory
          FROM upload_endpoints e JOIN nodes n ON n.node_id = e.node_id
         WHERE {node_alive()}
         ORDER BY (e.node_id = (SELECT node_id FROM stations WHERE id = $1)) DESC NULLS LAST,
                  e.started_at DESC
         LIMIT 1
        """,
        station_id)
    return UploadEndpoint(**dict(row)) if row else None


# -- requests ----------------------------------------------------------------------------------

async def next_request_id(db: Db) -> int:
    """A fresh GetLog requestId."""
    return int(await db.fetchval("SELECT nextval('log_request_ids')::integer"))


async def add_request(db: Db, station_id: str, request_id: int, log_type: str,
                      remote_location: str, *, upload_token: str | None,
                      oldest_at: datetime | None, latest_at: datetime | None) -> None:
    """Record a GetLog request before it is sent."""
    await db.execute(
        """
        INSERT INTO log_requests (station_id, request_id, log_type, remote_location,
                                  upload_token, oldest_at, latest_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        station_id, request_id, log_type, remote_location, upload_token, oldest_at, latest_at)


async def set_command(db: Db, station_id: str, request_id: int, command_id: int) -> None:
    """Link a request to the command that carries it."""
    await link_command(db, _TABLE, station_id, request_id, command_id)


async def record_answer(db: Db, station_id: str, request_id: int, answer: str,
                        reason: str | None, filename: str | None = None) -> None:
    """Record how the GetLog call ended; with AcceptedCanceled the station cancelled the
    upload in progress, which is marked as cancelled."""
    async with connection(db) as conn, conn.transaction():
        await conn.execute(
            """
            UPDATE log_requests SET answer = $3, answer_reason = $4, answered_at = now(),
                   filename = coalesce($5, filename)
             WHERE station_id = $1 AND request_id = $2
            """,
            station_id, request_id, answer, reason, filename)
        if answer == "AcceptedCanceled":
            await cancel_superseded(conn, _TABLE, "requested_at", station_id, request_id,
                                    FINAL_STATUSES)


async def settle_answers(db: Db) -> int:
    """Take the answers of GetLog commands that ended after their sender stopped waiting
    from the command table; returns how many were settled."""
    late = await late_answers(db, _TABLE)
    for a in late:
        await record_answer(db, a.station_id, a.request_id, a.answer, a.reason,
                            (a.response or {}).get("filename"))
    return len(late)


async def record_status(db: Db, station_id: str, request_id: int, status: str,
                        status_info: dict[str, Any] | None) -> bool:
    """Record a LogStatusNotification as the latest of its request; False when the CSMS has
    no request with that id. AcceptedCanceled reports that this request was cancelled."""
    return await record_request_status(db, _TABLE, station_id, request_id, status,
                                       status_info)


async def upload_target(db: Db, token: str) -> UploadTarget | None:
    """The request an upload token was issued for, or None."""
    row = await db.fetchrow(
        "SELECT station_id, request_id, log_type, filename FROM log_requests"
        " WHERE upload_token = $1", token)
    return UploadTarget(**dict(row)) if row else None


async def add_file(db: Db, station_id: str, request_id: int, filename: str, path: str,
                   size_bytes: int, sha256: str, content_type: str | None, node_id: str | None,
                   remote_address: str | None) -> int:
    """Record an uploaded file; returns its id."""
    return int(await db.fetchval(
        """
        INSERT INTO log_files (station_id, request_id, filename, path, size_bytes, sha256,
                               content_type, node_id, remote_address)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id
        """,
        station_id, request_id, filename, path, size_bytes, sha256, content_type, node_id,
        remote_address))


_REQUEST_COLUMNS = """
    station_id, request_id, log_type, remote_location, requested_at, oldest_at, latest_at,
    command_id, answer, answer_reason, answered_at, filename, status, status_info, status_at,
    canceled_by, upload_token IS NOT NULL AS to_csms
"""


async def list_requests(db: Db, *, station_id: str | None = None, request_id: int | None = None,
                        limit: int = 100) -> list[LogRequest]:
    """The most recent GetLog requests (of one station, or one request), newest first, with
    their files."""
    rows = await db.fetch(
        f"""
        SELECT {_REQUEST_COLUMNS} FROM log_requests
         WHERE ($1::text IS NULL OR station_id = $1) AND ($2::integer IS NULL OR request_id = $2)
         ORDER BY requested_at DESC, request_id DESC LIMIT $3
        """,
        station_id, request_id, limit)
    keys = [(r["station_id"], r["request_id"]) for r in rows]
    files = await db.fetch(
        """
        SELECT f.* FROM log_files f
          JOIN unnest($1::text[], $2::integer[]) AS k(station_id, request_id)
            ON f.station_id = k.station_id AND f.request_id = k.request_id
         ORDER BY f.id
        """,
        [k[0] for k in keys], [k[1] for k in keys])
    by_request: dict[tuple[str, int], list[LogFile]] = {}
    for f in files:
        by_request.setdefault((f["station_id"], f["request_id"]), []).append(LogFile(**dict(f)))
    return [LogRequest(**dict(r), files=tuple(by_request.get((r["station_id"],
                                                              r["request_id"]), ())))
            for r in rows]
