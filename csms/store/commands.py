"""Operator commands: CSMS-initiated OCPP calls that travel through the database.

Whoever wants a call sent (the CLI, the dispatcher) inserts a row and NOTIFYs ``csms_command``;
the node holding the station's socket claims the row, sends the call and records the answer,
then NOTIFYs ``csms_command_done``. This works whatever process, or machine, holds the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from csms.store import events_feed
from csms.store.db import Db, connection

COMMAND_CHANNEL = "csms_command"
DONE_CHANNEL = "csms_command_done"
#: How a command can end: the station answered (a CALLRESULT), answered a CALLERROR ("error"),
#: did not answer in time, was not connected, did not reconnect before the queue time was over,
#: or dropped its connection while the call was outstanding ("disconnected").
FINAL_STATUSES = frozenset({"answered", "error", "timeout", "offline", "expired",
                            "disconnected"})
#: A node that has not written its heartbeat for this long is taken for dead.
NODE_STALE_SECONDS = 15
#: Every node writes its heartbeat this often.
HEARTBEAT_SECONDS = 5.0
#: The ``application_name`` prefix of a node's LISTEN connection: while a node's process lives
#: it holds that connection, so a node without one and with a heartbeat older than one period
#: is gone (a SIGKILLed process), well before its heartbeat is stale.
LISTENER_APPLICATION = "csms-node "


def listener_application(node_id: str) -> str:
    """The ``application_name`` of node ``node_id``'s LISTEN connection."""
    return LISTENER_APPLICATION + node_id


def node_alive(alias: str = "n") -> str:
    """SQL condition: the ``nodes`` row ``alias`` is a live node (not stopped, heartbeat not
    older than NODE_STALE_SECONDS). A station is connected when a live node holds it."""
    return (f"({alias}.stopped_at IS NULL"
            f" AND {alias}.heartbeat_at > now() - interval '{NODE_STALE_SECONDS} seconds')")


#: Notifies the waiters of every command id in the array $2 on channel $1, in one statement.
NOTIFY_EACH = "SELECT pg_notify($1, id::text) FROM unnest($2::bigint[]) AS id"


@dataclass(frozen=True)
class Command:
    id: int
    station_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class CommandResult:
    id: int
    status: str
    response: dict[str, Any] | None
    error_code: str | None
    error_description: str | None


@contextlib.asynccontextmanager
async def _transaction(db: Db) -> AsyncIterator[asyncpg.Connection]:
    """A transaction on ``db`` (a pool: on one of its connections)."""
    async with connection(db) as conn, conn.transaction():
        yield conn


async def register_node(db: Db, node_id: str) -> None:
    """Record a starting server node."""
    await db.execute(
        "INSERT INTO nodes (node_id, hostname, pid) VALUES ($1, $2, $3)"
        " ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL",
        node_id, socket.gethostname(), os.getpid(),
    )


async def node_heartbeat(db: Db, node_id: str) -> None:
    """Tell other processes this node is alive."""
    await db.execute("UPDATE nodes SET heartbeat_at = now() WHERE node_id = $1", node_id)


async def node_stopped(db: Db, node_id: str) -> None:
    """Record a clean node shutdown; the stations it held are no longer connected to it."""
    async with _transaction(db) as conn:
        await conn.execute("UPDATE nodes SET stopped_at = now() WHERE node_id = $1", node_id)
        await events_feed.emit_disconnected_by_node(conn, node_id)
        await conn.execute(
            "UPDATE stations SET node_id = NULL, disconnected_at = now() WHERE node_id = $1",
            node_id,
        )


async def station_online(db: Db, station_id: str) -> bool:
    """True when a live node currently holds the station's socket."""
    return bool(
        await db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM stations s JOIN nodes n ON n.node_id = s.node_id"
            f" WHERE s.id = $1 AND {node_alive()})",
            station_id,
        )
    )


async def submit_command(
    db: Db,
    station_id: str,
    action: str,
    payload: dict[str, Any],
    *,
    queue_until: datetime | None = None,
) -> int:
    """Insert a command and wake the nodes; returns its id."""
    (command_id,) = await submit_commands(db, [station_id], action, payload,
                                          queue_until=queue_until)
    return command_id


async def submit_commands(
    db: Db, station_ids: Sequence[str], action: str, payload: dict[str, Any], *,
    queue_until: datetime | None = None,
) -> list[int]:
    """Queue the same command for many stations in one transaction and wake the nodes (one
    NOTIFY per command); returns the ids in the order of ``station_ids``."""
    async with _transaction(db) as conn:
        rows = await conn.fetch(
            "INSERT INTO commands (station_id, action, payload, queue_until)"
            " SELECT s, $2, $3::text::jsonb, $4 FROM unnest($1::text[]) WITH ORDINALITY AS u(s, n)"
            " ORDER BY n RETURNING id",
            list(station_ids), action, json.dumps(payload), queue_until)
        ids = [int(r[0]) for r in rows]
        await conn.execute(NOTIFY_EACH, COMMAND_CHANNEL, ids)
    return ids


async def pending_stations(db: Db, command_ids: Sequence[int]) -> list[tuple[int, str]]:
    """``(command id, station id)`` of those of ``command_ids`` still pending, oldest first
    (one query for a burst of notifications)."""
    rows = await db.fetch(
        "SELECT id, station_id FROM commands WHERE id = ANY($1::bigint[]) AND status = 'pending'"
        " ORDER BY id", list(command_ids))
    return [(r[0], r[1]) for r in rows]


async def claim_command(db: Db, command_id: int, node_id: str) -> Command | None:
    """Take a pending command for sending; None if another node took it or it expired."""
    claimed = await claim_commands(db, [command_id], node_id)
    return claimed[0] if claimed else None


async def claim_commands(db: Db, command_ids: Sequence[int], node_id: str) -> list[Command]:
    """Take many pending commands for sending at once (a fleet-wide command's burst), oldest
    first; those another node took or that expired are left out."""
    rows = await db.fetch(
        "UPDATE commands SET status = 'sent', sent_at = now(), node_id = $2"
        " WHERE id = ANY($1::bigint[]) AND status = 'pending'"
        " AND (queue_until IS NULL OR queue_until > now())"
        " RETURNING id, station_id, action, payload::text",
        list(command_ids), node_id,
    )
    return sorted((Command(r[0], r[1], r[2], json.loads(r[3])) for r in rows),
                  key=lambda c: c.id)


async def unclaim_command(db: Db, command_id: int, node_id: str) -> None:
    """Put a command this node claimed but did not send back in the queue (its station left
    meanwhile: it goes out when the station connects again)."""
    await db.execute(
        "UPDATE commands SET status = 'pending', sent_at = NULL, node_id = NULL"
        " WHERE id = $1 AND status = 'sent' AND node_id = $2", command_id, node_id)


async def pending_commands(db: Db, station_id: str) -> list[int]:
    """Ids of the commands waiting for ``station_id``, oldest first."""
    return (await pending_commands_of(db, [station_id])).get(station_id, [])


async def pending_commands_of(db: Db, station_ids: Sequence[str]) -> dict[str, list[int]]:
    """:func:`pending_commands` of many stations in one query (stations connecting in a
    storm); stations with none are left out."""
    rows = await db.fetch(
        "SELECT station_id, id FROM commands WHERE station_id = ANY($1::text[])"
        " AND status = 'pending' AND (queue_until IS NULL OR queue_until > now()) ORDER BY id",
        list(station_ids),
    )
    found: dict[str, list[int]] = {}
    for station_id, command_id in rows:
        found.setdefault(station_id, []).append(command_id)
    return found


#: A command's outcome: (command id, final status, response, error code, error description).
Outcome = tuple[int, str, dict[str, Any] | None, str | None, str | None]

_RECORD_OUTCOMES = """
UPDATE commands c SET status = o.status, answered_at = now(), response = o.response::jsonb,
       error_code = o.error_code, error_description = o.error_description
  FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])
       AS o(id, status, response, error_code, error_description)
 WHERE c.id = o.id
"""


async def record_outcomes(conn: asyncpg.Connection, outcomes: list[Outcome]) -> None:
    """Record commands' outcomes and notify their waiters, in the caller's transaction (two
    statements however many outcomes)."""
    ids = [o[0] for o in outcomes]
    await conn.execute(
        _RECORD_OUTCOMES, ids, [o[1] for o in outcomes],
        [None if o[2] is None else json.dumps(o[2]) for o in outcomes],
        [o[3] for o in outcomes], [o[4] for o in outcomes])
    await conn.execute(NOTIFY_EACH, DONE_CHANNEL, ids)


async def finish_command(
    db: Db,
    command_id: int,
    status: str,
    *,
    response: dict[str, Any] | None = None,
    error_code: str | None = None,
    error_description: str | None = None,
) -> None:
    """Record a command's outcome and wake whoever waits for it."""
    if status not in FINAL_STATUSES:
        raise ValueError(f"not a final command status: {status}")
    async with _transaction(db) as conn:
        await record_outcomes(conn, [(command_id, status, response, error_code,
                                      error_description)])


async def get_result(db: Db, command_id: int) -> CommandResult | None:
    """The command's outcome, or None while it is still pending or sent."""
    row = await db.fetchrow(
        "SELECT status, response::text, error_code, error_description, queue_until"
        " FROM commands WHERE id = $1",
        command_id,
    )
    if row is None:
        raise LookupError(f"no command {command_id}")
    if row[0] in FINAL_STATUSES:
        return CommandResult(command_id, row[0], row[1] and json.loads(row[1]), row[2], row[3])
    return None


async def expire_queued(db: Db) -> int:
    """Close the queued commands whose queue time is over; returns how many."""
    return await _close_and_notify(
        db,
        "UPDATE commands SET status = 'expired', answered_at = now(),"
        " error_description = 'station did not connect in time'"
        " WHERE status = 'pending' AND queue_until IS NOT NULL AND queue_until <= now()"
        " RETURNING id"
    )


async def fail_orphaned(db: Db) -> int:
    """Close the commands sent by a node that died before the answer came; returns how many.

    A node is taken for dead when its heartbeat is stale, or when it holds no LISTEN
    connection and has not written its heartbeat for one period (its process is gone: the
    database dropped its connections). Whether the station carried such a command out is
    unknown, so it ends as a timeout.
    """
    return await _close_and_notify(
        db,
        "UPDATE commands c SET status = 'timeout', answered_at = now(),"
        " error_description = 'the server node that sent it stopped before the answer'"
        f" FROM nodes n WHERE c.status = 'sent' AND n.node_id = c.node_id AND (NOT {node_alive()}"
        f" OR (n.heartbeat_at < now() - interval '{HEARTBEAT_SECONDS} seconds'"
        " AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a"
        f" WHERE a.application_name = '{LISTENER_APPLICATION}' || n.node_id)))"
        " RETURNING c.id"
    )


async def _close_and_notify(db: Db, update: str) -> int:
    """Run ``update`` (an UPDATE of commands RETURNING their ids) and notify each closed
    command's waiters, in one transaction; returns how many it closed."""
    async with _transaction(db) as conn:
        ids = [r[0] for r in await conn.fetch(update)]
        if ids:
            await conn.execute(NOTIFY_EACH, DONE_CHANNEL, ids)
    return len(ids)


async def expire_command(db: Db, command_id: int, status: str, reason: str) -> bool:
    """Close a command still pending (offline station, queue time over); False if it moved on."""
    async with _transaction(db) as conn:
        done = await conn.fetchval(
            "UPDATE commands SET status = $2, answered_at = now(), error_description = $3"
            " WHERE id = $1 AND status = 'pending' RETURNING id",
            command_id, status, reason,
        )
        if done is not None:
            await conn.execute("SELECT pg_notify($1, $2)", DONE_CHANNEL, f"{command_id}")
    return done is not None


class CommandWaiter:
    """Waits for the outcome of any number of commands over one LISTEN connection.

    A process shares one, owned by its :class:`csms.operations.Operations` client.
    Queries go through ``db`` (a pool, so that waits run concurrently); a missed notification
    (while the listener reconnects, say) is caught by a check every ``poll_s`` seconds.
    """

    def __init__(self, db: Db, database_url: str, *, poll_s: float = 1.0):
        self.db = db
        self.database_url = database_url
        self.poll_s = poll_s
        self._listener: asyncpg.Connection | None = None
        self._owns_listener = False
        self._stopped = False
        self._woken: dict[int, asyncio.Event] = {}

    async def start(self, listener: asyncpg.Connection | None = None) -> None:
        """LISTEN on ``listener`` (left open by :meth:`stop`), or on a connection of its own."""
        self._owns_listener = listener is None
        self._listener = listener or await asyncpg.connect(self.database_url)
        await self._listener.add_listener(DONE_CHANNEL, self._on_done)

    async def stop(self) -> None:
        """Stop listening; waits still in progress end as "timeout" (stopped)."""
        self._stopped = True
        for event in self._woken.values():
            event.set()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.remove_listener(DONE_CHANNEL, self._on_done)
                if self._owns_listener:
                    await self._listener.close()
            self._listener = None

    async def __aenter__(self) -> CommandWaiter:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _on_done(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            event = self._woken.get(int(payload))
            if event is not None:
                event.set()

    async def wait(self, command_id: int, timeout: float, *,
                   offline_grace: float = 3.0) -> CommandResult:
        """Wait until the command has an outcome and return it.

        A command that is not queued fails as "offline" when no node has claimed it within
        ``offline_grace`` seconds. After ``timeout`` seconds a queued command still waiting
        for its station is reported as "queued" (it stays queued), and a sent one as
        "timeout" (the node may still record a late answer).
        """
        woken = self._woken.setdefault(command_id, asyncio.Event())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        grace_end = loop.time() + offline_grace
        try:
            while True:
                woken.clear()
                result = await get_result(self.db, command_id)
                if result is not None:
                    return result
                if self._stopped:
                    return CommandResult(command_id, "timeout", None, None, "stopped")
                now = loop.time()
                if now >= grace_end:
                    queued = await self.db.fetchval(
                        "SELECT queue_until IS NOT NULL FROM commands WHERE id = $1", command_id
                    )
                    if not queued and await expire_command(
                        self.db, command_id, "offline", "station is not connected"
                    ):
                        continue
                    grace_end = float("inf")
                if now >= deadline:
                    status = await self.db.fetchval(
                        "SELECT status FROM commands WHERE id = $1", command_id
                    )
                    if status == "pending":
                        return CommandResult(command_id, "queued", None, None,
                                             "waiting for the station to connect")
                    return CommandResult(command_id, "timeout", None, None,
                                         f"no answer within {timeout:g} s")
                wake_at = min(deadline, grace_end, now + self.poll_s)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), wake_at - now + 0.05)
        finally:
            self._woken.pop(command_id, None)
