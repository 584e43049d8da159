"""The feed of what happened, for the HTTP API's live stream and webhooks.

:func:`emit` is the way in: it appends an event to ``feed_events``, adds a delivery to the
outbox of every webhook subscribed to its type, and NOTIFYs ``csms_feed`` with the event id,
all in one statement (so in the caller's transaction when it has one: a TransactionEvent that
was acknowledged to the station has its feed event and deliveries committed with it). The one
other writer, ``station.connected``, does the same three things, with the same SQL
(:func:`feed_ctes`), inside the statement that records a storm's connections
(:func:`csms.store.stations.record_connections`). Readers
(:mod:`csms.api.stream`) LISTEN and read new rows by id; a reader that missed notifications
catches up from the last id it saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from csms.store.db import Db

FEED_CHANNEL = "csms_feed"
#: How long feed events are kept (deliveries give up after a day; Last-Event-ID resumes).
RETENTION_DAYS = 7


class FeedType(StrEnum):
    """The kinds of feed events (the stream's event names and the webhooks' types)."""

    STATION_CONNECTED = "station.connected"
    STATION_DISCONNECTED = "station.disconnected"
    TRANSACTION_STARTED = "transaction.started"
    TRANSACTION_ENDED = "transaction.ended"
    EVENT_STARTED = "event.started"
    EVENT_STEP = "event.step"
    EVENT_COMPLETED = "event.completed"


@dataclass(frozen=True)
class FeedEvent:
    """One feed event: its id (increasing), type, data and time."""

    id: int
    type: str
    data: dict[str, Any]
    at: datetime


def feed_ctes(rows: str, channel: str) -> str:
    """The CTEs (``e``, ``d``, ``fed``) that append feed events, as :func:`emit` does:
    ``rows`` is a query of ``(type, data as JSON text, order)``; each event gets its webhooks'
    deliveries, and ``fed`` (one row: how many) NOTIFYs ``channel`` (a parameter, such as
    ``$3``) with each event id. Another statement that records something together with its
    feed event adds these to its own ``WITH`` (:func:`csms.store.stations.record_connections`).
    """
    return f"""e AS (
    INSERT INTO feed_events (type, data)
    SELECT f.type, f.data::jsonb FROM ({rows}) AS f(type, data, n) ORDER BY f.n
    RETURNING id, type
), d AS (
    INSERT INTO webhook_deliveries (webhook_id, event_id)
    SELECT w.id, e.id FROM e JOIN webhooks w ON e.type = ANY (w.types)
), fed AS (
    SELECT count(pg_notify({channel}, e.id::text)) AS n FROM e
)"""


_EMIT = f"""
WITH {feed_ctes("SELECT * FROM unnest($1::text[], $2::text[]) WITH ORDINALITY", "$3")}
SELECT n FROM fed
"""


async def emit(db: Db, type: FeedType, data: dict[str, Any]) -> None:
    """Record that ``type`` happened, with ``data`` (JSON-ready values; see module doc)."""
    await emit_many(db, [(type, data)])


async def emit_many(db: Db, events: Sequence[tuple[FeedType, dict[str, Any]]]) -> None:
    """:func:`emit` for several events at once, in order (one statement)."""
    if not events:
        return
    await db.execute(_EMIT, [str(t) for t, _ in events],
                     [orjson.dumps(d, default=str).decode() for _, d in events], FEED_CHANNEL)


async def station_disconnected(db: Db, station_id: str, node_id: str) -> None:
    """station.disconnected, unless another node has taken the station over meanwhile (call
    after recording the disconnection)."""
    if await db.fetchval("SELECT node_id IS NULL FROM stations WHERE id = $1", station_id):
        await emit(db, FeedType.STATION_DISCONNECTED, {"station_id": station_id,
                                                       "node_id": node_id})


async def grid_event(db: Db, type: FeedType, event_id: int, **data: Any) -> None:
    """event.started, event.step or event.completed of grid event ``event_id``."""
    await emit(db, type, {"event_id": event_id, **data})


async def emit_transactions(db: Db, items: Sequence[tuple[str, Any]]) -> None:
    """transaction.started / transaction.ended for the newly stored TransactionEvents among
    ``items`` ((station id, TxEvent) pairs); Updated events emit nothing."""
    kinds = {"Started": FeedType.TRANSACTION_STARTED, "Ended": FeedType.TRANSACTION_ENDED}
    await emit_many(db, [
        (kinds[e.event_type], {
            "station_id": station_id, "transaction_id": e.transaction_id, "evse_id": e.evse_id,
            "id_token": e.id_token, "timestamp": e.timestamp.isoformat(),
            "trigger_reason": e.trigger_reason, "stopped_reason": e.stopped_reason})
        for station_id, e in items if e.event_type in kinds])


async def emit_disconnected_by_node(db: Db, node_id: str) -> None:
    """station.disconnected for every station ``node_id`` holds (it is stopping)."""
    rows = await db.fetch("SELECT id FROM stations WHERE node_id = $1", node_id)
    await emit_many(db, [(FeedType.STATION_DISCONNECTED,
                          {"station_id": r[0], "node_id": node_id, "reason": "node stopped"})
                         for r in rows])


async def events_after(db: Db, after_id: int, *, limit: int = 1000) -> list[FeedEvent]:
    """Feed events with an id above ``after_id``, oldest first."""
    rows = await db.fetch("SELECT id, type, data, at FROM feed_events WHERE id > $1"
                          " ORDER BY id LIMIT $2", after_id, limit)
    return [FeedEvent(r[0], r[1], decode_data(r[2]), r[3]) for r in rows]


async def last_event_id(db: Db) -> int:
    """The id of the newest feed event (0 when there is none)."""
    return int(await db.fetchval("SELECT coalesce(max(id), 0) FROM feed_events"))


async def prune(db: Db, *, days: int = RETENTION_DAYS) -> int:
    """Delete feed events older than ``days`` that no pending delivery needs, and the closed
    deliveries (delivered or given up) as old; how many feed events went."""
    await db.execute(
        "DELETE FROM webhook_deliveries WHERE status <> 'pending'"
        " AND created_at < now() - make_interval(days => $1)", days)
    status = await db.execute(
        "DELETE FROM feed_events f WHERE at < now() - make_interval(days => $1)"
        " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = f.id"
        " AND d.status = 'pending')", days)
    return int(status.split()[-1])


def decode_data(value: Any) -> dict[str, Any]:
    # pools made by csms.store.db decode jsonb; a bare connection hands back text
    return orjson.loads(value) if isinstance(value, str) else value
