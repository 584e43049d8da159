"""How the request tables of the diagnostics and firmware blocks record the end of a call.

Such a table (``firmware_updates``, ``log_requests``) holds one row per request, keyed by
``station_id`` and ``request_id``, with the ``command_id`` that carries it, the station's
``answer`` (``answer_reason``, ``answered_at``), the latest ``status`` it reported
(``status_info``, ``status_at``) and ``canceled_by``, the request that cancelled it. The
functions here take the table's name, always one of this package's constants, never input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from csms.store.db import Db


def command_answer(status: str, response: dict[str, Any] | None, error_code: str | None,
                   error_description: str | None) -> tuple[str, str | None]:
    """(answer, reason) of a finished command: the station's status word and its statusInfo
    when it answered, else what stopped the call (callerror, expired, offline, ...)."""
    if status == "answered":
        response = response or {}
        info = response.get("statusInfo") or {}
        reason = ": ".join(str(info[k]) for k in ("reasonCode", "additionalInfo") if k in info)
        return str(response.get("status", "Accepted")), reason or None
    if status == "error":
        return "callerror", ": ".join(x for x in (error_code, error_description) if x) or None
    return status, error_description


@dataclass(frozen=True)
class LateAnswer:
    """A request whose command ended after its sender stopped waiting, and how it ended."""

    station_id: str
    request_id: int
    answer: str
    reason: str | None
    response: dict[str, Any] | None


async def link_command(db: Db, table: str, station_id: str, request_id: int,
                       command_id: int) -> None:
    """Link a request to the command that carries it."""
    await db.execute(
        f"UPDATE {table} SET command_id = $3 WHERE station_id = $1 AND request_id = $2",
        station_id, request_id, command_id)


async def cancel_superseded(conn: asyncpg.Connection, table: str, order_column: str,
                            station_id: str, request_id: int,
                            final_statuses: Sequence[str]) -> None:
    """The station answered ``request_id`` with AcceptedCanceled: it cancelled the request it
    had under way. Mark as cancelled by ``request_id`` the station's earlier accepted requests
    (by ``order_column``) that had not reached one of ``final_statuses``."""
    await conn.execute(
        f"""
        UPDATE {table} SET canceled_by = $2
         WHERE station_id = $1 AND request_id <> $2 AND canceled_by IS NULL
           AND answer IN ('Accepted', 'AcceptedCanceled')
           AND {order_column} <= (SELECT {order_column} FROM {table}
                                   WHERE station_id = $1 AND request_id = $2)
           AND coalesce(status, '') <> ALL ($3::text[])
        """,
        station_id, request_id, list(final_statuses))


async def late_answers(db: Db, table: str) -> list[LateAnswer]:
    """The requests still without an answer (or only queued / timed out) whose command has
    ended since: answered, failed, expired or found the station offline."""
    rows = await db.fetch(
        f"""
        SELECT r.station_id, r.request_id, c.status, c.response, c.error_code,
               c.error_description
          FROM {table} r JOIN commands c ON c.id = r.command_id
         WHERE (r.answer IS NULL OR r.answer IN ('queued', 'timeout'))
           AND c.status IN ('answered', 'error', 'expired', 'offline')
        """)
    return [LateAnswer(row["station_id"], row["request_id"],
                       *command_answer(row["status"], row["response"], row["error_code"],
                                       row["error_description"]),
                       row["response"])
            for row in rows]


async def record_request_status(db: Db, table: str, station_id: str, request_id: int,
                                status: str, status_info: dict[str, Any] | None) -> bool:
    """Record a status notification as the latest of its request; False when the table has
    no request with that id. A status means the station took the request: an answer still
    unknown (or only queued / timed out) becomes Accepted."""
    result = await db.execute(
        f"""
        UPDATE {table} SET status = $3, status_info = $4, status_at = now(),
               answer = CASE WHEN answer IS NULL OR answer IN ('queued', 'timeout')
                             THEN 'Accepted' ELSE answer END,
               answered_at = coalesce(answered_at, now())
         WHERE station_id = $1 AND request_id = $2
        """,
        station_id, request_id, status, status_info)
    return result != "UPDATE 0"
