"""Display messages (O01-O06): the messages the CSMS set on each station's display, what the
station reported in NotifyDisplayMessages, and what the grid dispatcher needs to know of a
station's display.

A row changes only on what a station says: its answer to SetDisplayMessage or
ClearDisplayMessage (recorded by the node that sent it, whoever asked) and its reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csms.store.base import utcnow
from csms.store.db import Db, connection

#: Message ids from here up are the grid dispatcher's: one per EVSE (this base + the EVSE id).
GRID_MESSAGE_BASE = 2_000_000_000


@dataclass(frozen=True)
class DisplayMessage:
    """One message (MessageInfoType): ``id`` None lets the CSMS choose the next free one."""

    content: str
    priority: str = "NormalCycle"
    format: str = "UTF8"
    language: str | None = None
    state: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    transaction_id: str | None = None
    display: dict[str, Any] | None = None
    id: int | None = None


@dataclass
class StoredMessage:
    """A message as the CSMS knows it.

    ``status``: active (on the station), expired (its end has passed) or transaction-ended
    (its transaction is over; the station removes both by itself), cleared, or gone (the
    station no longer has it). ``origin``: operator, grid or station.
    """

    station_id: str
    id: int
    priority: str
    content: str
    format: str
    language: str | None
    state: str | None
    start: datetime | None
    end: datetime | None
    transaction_id: str | None
    display: dict[str, Any] | None
    origin: str
    status: str
    set_at: datetime | None
    reported_at: datetime | None
    updated_at: datetime

    @property
    def message(self) -> DisplayMessage:
        """The message itself."""
        return DisplayMessage(self.content, self.priority, self.format, self.language,
                              self.state, self.start, self.end, self.transaction_id,
                              self.display, self.id)


@dataclass(frozen=True)
class DisplayCapabilities:
    """What a station's device model (as the CSMS last learned it) says of its display;
    None where it is not known."""

    available: bool | None = None
    formats: frozenset[str] | None = None
    priorities: frozenset[str] | None = None
    states: frozenset[str] | None = None


@dataclass(frozen=True)
class ReportParts:
    """The NotifyDisplayMessages parts of one GetDisplayMessages request received so far."""

    parts: int
    complete: bool
    message_info: list[dict[str, Any]] = field(default_factory=list)


def origin_of(message_id: int) -> str:
    """Who sets messages with ``message_id``: the grid dispatcher or an operator."""
    return "grid" if message_id >= GRID_MESSAGE_BASE else "operator"


_COLUMNS = ("priority, state, starts_at, ends_at, transaction_id, format, language, content,"
            " display")


def _values(m: DisplayMessage) -> tuple[Any, ...]:
    return (m.priority, m.state, m.start, m.end, m.transaction_id, m.format, m.language,
            m.content, m.display)


_UPSERT = f"""
INSERT INTO display_messages (station_id, message_id, {_COLUMNS}, origin, status, set_at,
                              reported_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'active', $13, $14)
ON CONFLICT (station_id, message_id) DO UPDATE SET
    priority = EXCLUDED.priority, state = EXCLUDED.state, starts_at = EXCLUDED.starts_at,
    ends_at = EXCLUDED.ends_at, transaction_id = EXCLUDED.transaction_id,
    format = EXCLUDED.format, language = EXCLUDED.language, content = EXCLUDED.content,
    display = EXCLUDED.display, status = 'active',
    origin = CASE WHEN EXCLUDED.set_at IS NULL THEN display_messages.origin
                  ELSE EXCLUDED.origin END,
    set_at = coalesce(EXCLUDED.set_at, display_messages.set_at),
    reported_at = EXCLUDED.reported_at, updated_at = now()
"""


async def record_set(db: Db, station_id: str, message: DisplayMessage) -> None:
    """The station accepted ``message`` (SetDisplayMessage): it replaces any message of its id
    (O06)."""
    assert message.id is not None
    await db.execute(_UPSERT, station_id, message.id, *_values(message),
                     origin_of(message.id), utcnow(), None)


async def record_cleared(db: Db, station_id: str, message_id: int, *, had_it: bool) -> None:
    """The station answered ClearDisplayMessage: Accepted (``had_it``) or Unknown."""
    await db.execute(
        "UPDATE display_messages SET status = $3, updated_at = now()"
        " WHERE station_id = $1 AND message_id = $2 AND status = 'active'",
        station_id, message_id, "cleared" if had_it else "gone")


async def record_report_part(db: Db, station_id: str, request_id: int, tbc: bool,
                             message_info: list[dict[str, Any]],
                             messages: Sequence[DisplayMessage]) -> int:
    """Keep one NotifyDisplayMessages part and the messages it lists (those not set by this
    CSMS are kept with origin station); returns the part's number (0 for the first)."""
    async with connection(db) as conn, conn.transaction():
        part = await conn.fetchval(
            "SELECT coalesce(max(part) + 1, 0) FROM display_message_reports"
            " WHERE station_id = $1 AND request_id = $2", station_id, request_id)
        await conn.execute(
            "INSERT INTO display_message_reports (station_id, request_id, part, tbc,"
            " message_info) VALUES ($1, $2, $3, $4, $5)",
            station_id, request_id, part, tbc, message_info)
        now = utcnow()
        await conn.executemany(_UPSERT, [
            (station_id, m.id, *_values(m), "station", None, now) for m in messages])
    return int(part)


async def report_parts(db: Db, station_id: str, request_id: int) -> ReportParts:
    """The parts received for ``request_id``; complete once the last one (tbc false) is in."""
    rows = await db.fetch(
        "SELECT tbc, message_info FROM display_message_reports"
        " WHERE station_id = $1 AND request_id = $2 ORDER BY part", station_id, request_id)
    return ReportParts(len(rows), any(not r["tbc"] for r in rows),
                       [m for r in rows for m in r["message_info"]])


async def mark_gone(db: Db, station_id: str, *, ids: Sequence[int] | None,
                    priority: str | None, state: str | None, reported: Sequence[int]) -> int:
    """After a complete report for these criteria: the active messages that match them but
    were not reported are no longer on the station. Returns how many."""
    result = await db.execute(
        """
        UPDATE display_messages SET status = 'gone', updated_at = now()
         WHERE station_id = $1 AND status = 'active'
           AND ($2::integer[] IS NULL OR message_id = ANY($2::integer[]))
           AND ($3::text IS NULL OR priority = $3) AND ($4::text IS NULL OR state = $4)
           AND NOT (message_id = ANY($5::integer[]))
        """,
        station_id, None if ids is None else list(ids), priority, state, list(reported))
    return int(result.split()[-1])


async def list_messages(db: Db, station_id: str, *, everything: bool = False
                        ) -> list[StoredMessage]:
    """A station's messages by id: those it has now, or with ``everything`` also the ones
    cleared, gone, expired or whose transaction ended."""
    rows = await db.fetch(
        """
        SELECT * FROM (
            SELECT m.station_id, m.message_id AS id, m.priority, m.content, m.format,
                   m.language, m.state, m.starts_at AS start, m.ends_at AS "end",
                   m.transaction_id, m.display, m.origin,
                   CASE WHEN m.status <> 'active' THEN m.status
                        WHEN m.ends_at <= now() THEN 'expired'
                        WHEN t.ended_at IS NOT NULL THEN 'transaction-ended'
                        ELSE 'active' END AS status,
                   m.set_at, m.reported_at, m.updated_at
              FROM display_messages m
              LEFT JOIN transactions t ON t.station_id = m.station_id
                                      AND t.transaction_id = m.transaction_id
             WHERE m.station_id = $1) s
         WHERE $2 OR status = 'active'
         ORDER BY id
        """,
        station_id, everything)
    return [StoredMessage(**dict(r)) for r in rows]


async def next_message_id(db: Db, station_id: str) -> int:
    """The id after the highest one below the grid dispatcher's range (1 for the first)."""
    value = await db.fetchval(
        "SELECT coalesce(max(message_id), 0) + 1 FROM display_messages"
        " WHERE station_id = $1 AND message_id < $2", station_id, GRID_MESSAGE_BASE)
    return int(value)


async def active_contents(db: Db, keys: Sequence[tuple[str, int]]
                          ) -> dict[tuple[str, int], tuple[str, str | None]]:
    """(content, transaction id) of the messages among ``keys`` (station, message id) that the
    stations have now."""
    rows = await db.fetch(
        """
        SELECT m.station_id, m.message_id, m.content, m.transaction_id
          FROM display_messages m
          JOIN unnest($1::text[], $2::integer[]) AS k (station_id, message_id)
            ON k.station_id = m.station_id AND k.message_id = m.message_id
         WHERE m.status = 'active' AND (m.ends_at IS NULL OR m.ends_at > now())
        """,
        [k[0] for k in keys], [k[1] for k in keys])
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def _members(value: str | None) -> frozenset[str] | None:
    return None if value is None else frozenset(v.strip() for v in value.split(",") if v.strip())


async def display_capabilities(db: Db, station_ids: Sequence[str]
                               ) -> dict[str, DisplayCapabilities]:
    """What each station's DisplayMessageCtrlr says (Available and Enabled, SupportedFormats,
    SupportedPriorities, SupportedStates), from the CSMS's copy of its device model."""
    rows = await db.fetch(
        """
        SELECT station_id, variable_name, value FROM variable_attributes
         WHERE station_id = ANY($1::text[]) AND component_name = 'DisplayMessageCtrlr'
           AND attribute_type = 'Actual' AND component_instance = '' AND evse_id = 0
           AND variable_name IN ('Available', 'Enabled', 'SupportedFormats',
                                 'SupportedPriorities', 'SupportedStates')
        """,
        list(station_ids))
    found: dict[str, dict[str, str | None]] = {s: {} for s in station_ids}
    for r in rows:
        found[r["station_id"]][r["variable_name"]] = r["value"]
    out = {}
    for station_id, values in found.items():
        flags = [values[k] for k in ("Available", "Enabled") if values.get(k) is not None]
        out[station_id] = DisplayCapabilities(
            available=None if not flags else all(f == "true" for f in flags),
            formats=_members(values.get("SupportedFormats")),
            priorities=_members(values.get("SupportedPriorities")),
            states=_members(values.get("SupportedStates")))
    return out
