"""The grid dispatcher: runs inside ``csms serve`` on exactly one node.

Every node starts a :class:`GridDispatcher`; the one that takes the PostgreSQL advisory lock
runs the loop, the others try again every ``lock_retry_s`` on a connection they keep open, so
if the holder stops (or dies: the database drops its connection, and the lock with it) another
node takes over and resumes the active events from their stored state
(:meth:`csms.grid.runner.EventRunner.resume`). The loop wakes every ``tick_s`` and on NOTIFY
``csms_grid`` (an event was created, changed or cancelled): it activates events at their start,
runs each active event's control steps, and finishes events at their end or on cancellation.
The leader also runs the site controller (:mod:`csms.grid.site_control`), which keeps every
site's chargers under its import limit outside events too, leaving room for what the events'
plans ask; it is woken after every event step, so it follows their setpoints and takes over a
car's recharge as soon as its event ends.

The leader checks its lock connection at every tick (a query answered within
``lock_check_s``); when the check fails (the database restarted, failed over, or cannot be
reached) it stops leading at once, so two nodes never run an event's loop for longer than that
while the old leader's connection dies silently. The lock connection is named
``csms-dispatcher <node id>`` in ``pg_stat_activity``: the leader is the node whose connection
holds the advisory lock :data:`csms.store.grid.events.DISPATCHER_LOCK`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
import structlog

from csms.grid.runner import EventRunner
from csms.grid.scheduler import FleetScheduler
from csms.grid.sending import Dispatch
from csms.grid.site_control import SiteController, SiteControlSettings
from csms.operations import Operations
from csms.store.base import utcnow
from csms.store.db import application
from csms.store.grid import events as store

log = structlog.get_logger("csms.grid.dispatcher")


class GridDispatcher:
    """Start with :meth:`start`, stop with :meth:`stop`; see the module docstring."""

    def __init__(self, operations: Operations, node_id: str, *,
                 tick_s: float = 1.0, lock_retry_s: float = 2.0, lock_check_s: float = 5.0,
                 call_timeout: float = 20.0,
                 site_settings: SiteControlSettings | None = None) -> None:
        self.operations = operations
        self.pool = operations.pool
        self.database_url = operations.database_url
        self.node_id = node_id
        self.tick_s = tick_s
        self.lock_retry_s = lock_retry_s
        self.lock_check_s = lock_check_s
        self.call_timeout = call_timeout
        self.log = log.bind(node_id=node_id)
        self.runners: dict[int, EventRunner] = {}
        #: one scheduler for every event this node runs: which event each EV serves
        self.scheduler = FleetScheduler()
        self.leading = asyncio.Event()
        self.site_settings = site_settings or SiteControlSettings(call_timeout=call_timeout)
        #: the site controller while this node leads
        self.sites: SiteController | None = None
        self._busy: dict[int, asyncio.Task[Any]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Begin competing for the dispatcher lock (returns at once)."""
        self._task = asyncio.create_task(self._run(), name="grid-dispatcher")

    async def stop(self) -> None:
        """Stop dispatching; active events are resumed by the next node to take the lock."""
        if self._task is not None:
            # Cancel until it ends: on Python 3.11 a cancellation that meets a wait_for whose
            # inner wait completes at the same moment can be lost, and the loop goes on.
            while not self._task.done():
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=1.0)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for task in list(self._busy.values()):
            task.cancel()
        for task in list(self._busy.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self) -> None:
        conn: asyncpg.Connection | None = None
        try:
            while True:
                try:
                    if conn is None or conn.is_closed():
                        conn = await asyncpg.connect(
                            self.database_url, **application(f"csms-dispatcher {self.node_id}"))
                    if await store.try_dispatcher_lock(conn):
                        await self._lead(conn)
                except Exception as exc:  # the dispatcher must outlive any fault
                    self.log.warning("grid.dispatcher_error", error=str(exc) or repr(exc))
                    if conn is not None:
                        conn.terminate()  # the lock (if held) goes with the connection
                        conn = None
                finally:
                    self.leading.clear()
                await asyncio.sleep(self.lock_retry_s)
        finally:
            if conn is not None:
                conn.terminate()

    async def _lead(self, conn: asyncpg.Connection) -> None:
        self.log.info("grid.dispatcher_leading")
        sender = Dispatch(self.operations)
        wake = asyncio.Event()
        await conn.add_listener(store.GRID_CHANNEL, lambda *_: wake.set())
        self.sites = SiteController(self.operations, self.node_id, self.site_settings)
        sites_task = asyncio.create_task(self.sites.run(), name="site-controller")
        self.leading.set()
        try:
            while True:
                await asyncio.wait_for(conn.fetchval("SELECT 1"), self.lock_check_s)
                await self._tick(sender)
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.tick_s)
        finally:
            while not sites_task.done():  # as in stop(): a lost cancellation is repeated
                sites_task.cancel()
                await asyncio.wait({sites_task}, timeout=1.0)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sites_task
            self.sites = None
            for task in list(self._busy.values()):
                task.cancel()
            self._busy.clear()
            self.runners.clear()
            self.scheduler = FleetScheduler()

    def _spawn(self, event_id: int, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._busy[event_id] = task

        def done(t: asyncio.Task[Any]) -> None:
            self._busy.pop(event_id, None)
            if self.sites is not None:
                self.sites.wake()  # the event's setpoints (or its end) change the sites' room
            if not t.cancelled() and t.exception() is not None:
                self.log.error("grid.step_failed", event_id=event_id,
                               error=repr(t.exception()))

        task.add_done_callback(done)

    async def _tick(self, sender: Dispatch) -> None:
        now = utcnow()
        open_ids = set()
        for event in await store.open_events(self.pool):
            open_ids.add(event.id)
            if event.id in self._busy:
                continue
            runner = self.runners.get(event.id)
            if event.status == "scheduled":
                if now < event.start:
                    continue
                if now >= event.end:
                    await store.mark_missed(self.pool, event.id)
                    continue
                if not await store.mark_active(self.pool, event.id):
                    continue
                runner = await self._runner(event, sender)
                self._spawn(event.id, runner.activate(now))
            elif runner is None:
                runner = await self._runner(event, sender)
                self._spawn(event.id, runner.resume(now))
            elif now >= runner.next_at or now >= event.end:
                self._spawn(event.id, self._step(runner, now))
        for event_id, runner in list(self.runners.items()):
            if event_id not in open_ids and event_id not in self._busy:
                self._spawn(event_id, self._step(runner, now))  # cancelled: finish it

    async def _runner(self, event: Any, sender: Dispatch) -> EventRunner:
        program = await store.get_program(self.pool, event.program)
        if program is None:
            raise LookupError(f"event {event.id}: no program {event.program}")
        runner = EventRunner(self.pool, sender, event, program, call_timeout=self.call_timeout,
                             scheduler=self.scheduler)
        self.runners[event.id] = runner
        return runner

    async def _step(self, runner: EventRunner, now: Any) -> None:
        if not await runner.step(now):
            self.runners.pop(runner.event.id, None)
