"""A server node's link to the others through PostgreSQL: commands, takeovers, liveness.

Channels:

- ``csms_command`` (payload: command id): an operator command was queued. The node holding the
  station's socket claims it, sends the call, and records the answer.
- ``csms_station_connected`` (payload: ``node_id station_id``): a node accepted a station; any
  other node still holding an older socket for it closes that socket.

The node also writes a heartbeat so that others can tell whether a station's node is alive, and
expires queued commands whose time is over.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg
import structlog
from websockets.exceptions import ConnectionClosed

from csms import metrics
from csms.blocks.responses import record_response
from csms.ocppj import CallError, CallTimeout, OCPPError
from csms.store import batch, commands, rotation
from csms.store.coalesce import Coalesced
from csms.store.db import application

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from csms.config import ServerConfig
    from csms.session import StationSession


class CentralSystem(Protocol):
    """What a node uses of the server it belongs to (:class:`csms.server.CentralSystem`)."""

    config: ServerConfig
    pool: asyncpg.Pool | None
    sessions: dict[str, StationSession]

    def disconnect(self, station_id: str, reason: str) -> None: ...

log = structlog.get_logger("csms.node")

CONNECTED_CHANNEL = "csms_station_connected"
HEARTBEAT_SECONDS = commands.HEARTBEAT_SECONDS


class StationLocks:
    """One lock per station, kept only while a command for it runs or waits its turn, so that
    a node that commands every station of a fleet now and then holds no lock for any of them
    in between."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._held)

    @contextlib.asynccontextmanager
    async def hold(self, station_id: str) -> AsyncIterator[None]:
        """Hold ``station_id``'s lock; holders come in the order they asked."""
        lock, users = self._held.get(station_id) or (asyncio.Lock(), 0)
        self._held[station_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._held[station_id]
            if users == 1:
                del self._held[station_id]
            else:
                self._held[station_id] = (lock, users - 1)


class Node:
    """Listens for commands and takeovers on behalf of a :class:`CentralSystem`."""

    def __init__(self, system: CentralSystem):
        self.system = system
        self.node_id = system.config.node_id
        self.log = log.bind(node_id=self.node_id)
        self._listener: asyncpg.Connection | None = None
        self._pending: Coalesced[str, None, list[int]] = Coalesced(
            lambda ids: commands.pending_commands_of(self.pool, list(ids)))
        self._tasks: set[asyncio.Task[Any]] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self._station_locks = StationLocks()
        self._sent: dict[int, tuple[str, float]] = {}  # command id: (action, sent at)
        self._notified: list[int] = []
        self._claiming = False

    @property
    def pool(self) -> asyncpg.Pool:
        assert self.system.pool is not None
        return self.system.pool

    async def start(self) -> None:
        """Register the node and start listening."""
        await commands.register_node(self.pool, self.node_id)
        await self._listen()
        self._heartbeat = asyncio.create_task(self._beat())

    async def stop(self) -> None:
        """Stop listening and record the node's clean stop."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
        with contextlib.suppress(Exception):
            await commands.node_stopped(self.pool, self.node_id)

    async def deliver_pending(self, station_id: str) -> None:
        """Send the commands queued for a station that has just connected."""
        session = self.system.sessions.get(station_id)
        if session is None:
            return
        await session.ready.wait()
        # the stations connecting at this moment look up their queues together
        for command_id in await self._pending(station_id, None) or []:
            await self._run(command_id, station_id)

    # -- internals --------------------------------------------------------------------------

    async def _listen(self) -> None:
        self._listener = await asyncpg.connect(
            self.system.config.database_url,
            **application(commands.listener_application(self.node_id)))
        await self._listener.add_listener(commands.COMMAND_CHANNEL, self._on_notify)
        await self._listener.add_listener(CONNECTED_CHANNEL, self._on_notify)

    def _on_notify(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        if channel == commands.COMMAND_CHANNEL:
            # A fleet-wide command arrives as thousands of notifications at once: they are
            # looked up together, in one query, by a single task; one such task at a time, so
            # that bursts are claimed, and a station's commands sent, in the order submitted.
            self._notified.append(int(payload))
            if not self._claiming:
                self._claiming = True
                self._spawn(self._on_commands())
        elif channel == CONNECTED_CHANNEL:
            node_id, _, station_id = payload.partition(" ")
            if node_id != self.node_id and station_id in self.system.sessions:
                self.log.info("connection_replaced", station_id=station_id, by_node=node_id)
                self.system.disconnect(station_id, "replaced by a connection on another node")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_commands(self) -> None:
        try:
            while self._notified:
                await asyncio.sleep(0)  # let the rest of the burst in
                command_ids, self._notified = self._notified, []
                mine = [command_id
                        for command_id, station_id in await commands.pending_stations(
                            self.pool, command_ids)
                        if station_id in self.system.sessions]
                # The burst's commands for this node's stations are claimed in one statement
                # (a fleet-wide dispatch: one round trip instead of one per station).
                for command in await commands.claim_commands(self.pool, mine, self.node_id):
                    self._spawn(self._run_claimed(command))
        finally:
            self._claiming = False

    async def _run(self, command_id: int, station_id: str) -> None:
        # Commands for one station go out one after the other, in the order they were claimed.
        async with self._station_locks.hold(station_id):
            session = self.system.sessions.get(station_id)
            if session is None:
                return
            command = await commands.claim_command(self.pool, command_id, self.node_id)
            if command is None:
                return
            await self._send_claimed(command, session)

    async def _run_claimed(self, command: commands.Command) -> None:
        async with self._station_locks.hold(command.station_id):
            session = self.system.sessions.get(command.station_id)
            if session is None:  # the station left since the claim: it waits for its return
                await commands.unclaim_command(self.pool, command.id, self.node_id)
                return
            await self._send_claimed(command, session)

    async def _send_claimed(self, command: commands.Command, session: StationSession) -> None:
        if command.action == "SetVariables":
            # A new BasicAuthPassword is in memory now: keep no copy of it in the table.
            await rotation.redact_command_secrets(self.pool, command.id)
        await self._execute(command, session)

    async def _execute(self, command: commands.Command, session: StationSession) -> None:
        clog = self.log.bind(station_id=command.station_id, command_id=command.id,
                             action=command.action)
        await session.ready.wait()
        assert session.rpc is not None
        if command.action == "TriggerMessage":
            # The triggered message may follow the answer at once: allow it before sending.
            session.gate.triggered_by(command.payload.get("requestedMessage", ""))
        self._sent[command.id] = (command.action, time.perf_counter())
        try:
            response = await session.rpc.call(command.action, command.payload)
        except CallError as exc:
            await self._finish(command.id, "error",
                               error_code=exc.code, error_description=exc.description)
        except CallTimeout as exc:
            await self._finish(command.id, "timeout", error_description=str(exc))
        except OCPPError as exc:
            await self._finish(command.id, "error", error_code=exc.code,
                               error_description=exc.description)
        except ConnectionClosed:
            await self._finish(command.id, "disconnected",
                               error_description="the station disconnected before it answered")
        else:
            await record_response(self.pool, command.station_id, command.action,
                                  command.payload, response)
            await self._finish(command.id, "answered", response=response)
            clog.info("command_answered")
            return
        clog.info("command_failed")

    async def _finish(self, command_id: int, status: str, **outcome: Any) -> None:
        # Outcomes of many commands share one transaction (and its NOTIFYs): group commit.
        metrics.command_done(*self._sent.pop(command_id, ("unknown", None)), status)
        await batch.writer(self.pool).finish_command(command_id, status, **outcome)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                await commands.node_heartbeat(self.pool, self.node_id)
                if self._listener is None or self._listener.is_closed():
                    self.log.warning("listener_reconnecting")
                    await self._listen()
                    # Notifications sent while the listener was away are lost: look again.
                    for station_id in list(self.system.sessions):
                        self._spawn(self.deliver_pending(station_id))
                await commands.expire_queued(self.pool)
                await commands.fail_orphaned(self.pool)
            except (OSError, asyncpg.PostgresError) as exc:
                self.log.warning("node_heartbeat_failed", error=str(exc))
