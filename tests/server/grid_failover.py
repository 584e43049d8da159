"""A grid event over a simulated fleet while nodes die and the database restarts, and what it
cost: shared by ``tests/grid/test_failover_e2e.py`` (short, few stations) and
``tests/benchmarks/bench_grid_failover.py`` (30 FE-20 stations, 150 kW).

Two deployments of two nodes on one database:

- ``workers``: ``csms serve --workers 2``; the kernel spreads the stations over the workers,
  and the serve process starts a killed worker again;
- ``nodes``: two ``csms serve`` processes, as on two machines, behind a layer-4 balancer; a
  killed one is started again after ``restart_after_s``, as systemd's ``Restart=always`` /
  ``RestartSec`` (or a Kubernetes pod) would.

Faults, each at a time into the event: ``leader`` SIGKILLs the node holding the dispatcher
lock; ``sockets`` SIGKILLs the node holding most stations (and queues a command for one of its
stations, to be delivered once it is back); ``database`` stops PostgreSQL (fast shutdown, every
session terminated, as a crash or a failover does) and starts it after ``db_down_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from csms.grid.mv import net_export_kwh
from csms.grid.service import create_event
from csms.operations import Operations, Outcome, Status
from csms.operations.profiles import DISPATCH_STACK_LEVEL
from csms.store import commands
from csms.store.db import open_pool
from csms.store.grid import events as grid_events
from csms.store.grid import fleet as grid_fleet
from csms.store.grid.events import DISPATCHER_LOCK
from csms.store.grid.records import Program
from simulators.station import Station
from tests.server.balancer import Balancer
from tests.server.cluster import Cluster
from tests.server.fleet import Audit, Running, all_ended, audit, fleet, register
from tests.server.helpers import CsmsProcess, until

FAULTS = ("leader", "sockets", "database")
#: The operator's command queued for a station of a killed node.
HEARTBEAT_TRIGGER = ("TriggerMessage", {"requestedMessage": "Heartbeat"})
#: The stations' meter-value interval outside events (an event raises the rate).
FLEET_METER_INTERVAL_S = 10
DEPLOYMENTS = ("workers", "nodes")


@dataclass
class FailoverSettings:
    """The run: fleet, event, loop timing, and the faults (seconds into the event, kind)."""

    deployment: str = "workers"
    faults: tuple[tuple[float, str], ...] = ((12.0, "leader"),)
    stations: int = 8
    target_kw: float = 40.0
    event_s: float = 45.0
    control_interval_s: int = 3
    settle_s: float = 2.0
    meter_interval_s: int = 1
    window_s: float = 30.0
    soc: float = 0.7
    db_down_s: float = 3.0
    restart_after_s: float = 2.0
    #: the stations' reconnect back-off (OCPP-J Part 4 §5.3: minimum, random range)
    backoff_min_s: float = 0.5
    backoff_random_s: float = 2.0


@dataclass
class FaultResult:
    """What one fault did and cost."""

    kind: str
    at_s: float
    #: the node killed (its id) and what it held then
    node: str | None = None
    was_leader: bool = False
    sockets: int = 0
    #: seconds from the fault to the first control step recorded after it, and from the last
    #: step before the fault to that one (the control interval when nothing was missed)
    step_again_s: float | None = None
    step_gap_s: float | None = None
    #: stations that lost their connection, and seconds until each was back
    dropped: int = 0
    back_s: list[float] = field(default_factory=list)
    #: the outcome of a command queued for a station of the killed node
    queued_command: Status | None = None
    leader_after: str | None = None
    #: when it struck (monotonic and wall clock)
    fired_at: float = 0.0
    wall_at: datetime | None = None
    #: the stations the killed node held
    held: list[str] = field(default_factory=list)
    command: list[int] | None = None
    #: the nodes up once the next fault comes (or the event ends)
    nodes_after: list[str] = field(default_factory=list)


@dataclass
class FailoverResult:
    """The whole run, read back from the database and the simulators."""

    settings: FailoverSettings
    event_id: int
    start: datetime
    faults: list[FaultResult]
    steps: list[dict[str, Any]]
    members: list[str]
    #: (seconds into the event, measured fleet export kW) of each full window
    windows: list[tuple[float, float]]
    activations: int
    meter_rate_raises: dict[str, int]
    profile_ids: dict[str, set[int]]
    #: members that got no setpoint from the last step before the end
    forgotten: list[str]
    audit: Audit
    status: str
    #: the nodes up after the event
    nodes: list[str]

    def outside(self, tolerance: float = 0.05) -> list[tuple[float, float]]:
        """(window start, error as a fraction of target) of the windows outside tolerance."""
        target = self.settings.target_kw
        return [(s, (kw - target) / target) for s, kw in self.windows
                if abs(kw - target) > tolerance * target]

    @property
    def lost(self) -> int:
        """Acknowledged values not stored: stations with a seqNo gap or an energy mismatch,
        and TransactionEvents a station discarded or still holds."""
        a = self.audit
        return len(a.gaps) + len(a.energy_mismatches) + a.discarded + a.queued

    @property
    def doubled(self) -> int:
        """Sampled values stored twice, activations beyond the first, meter-rate raises beyond
        one per station, dispatch profiles under a second id."""
        return (self.audit.doubled + max(0, self.activations - 1)
                + sum(n - 1 for n in self.meter_rate_raises.values() if n > 1)
                + sum(len(ids) - 1 for ids in self.profile_ids.values() if len(ids) > 1))


class Deployment:
    """Two nodes on one database; :meth:`kill` one by node id."""

    url: str

    def __init__(self, database_url: str, log_dir: Path, settings: FailoverSettings) -> None:
        self.database_url = database_url
        self.log_dir = log_dir
        self.settings = settings
        self.processes: list[CsmsProcess] = []
        self.balancer: Balancer | None = None
        self._restarts: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self.settings.deployment == "workers":
            csms = CsmsProcess(self.database_url, self.log_dir / "csms.log", None,
                               "--workers", "2")
            self.processes = [csms]
            await csms.start()
            self.url = csms.url
        else:
            # As a unit file would: the URL in CSMS_DATABASE_URL, listing every server of the
            # HA pair and asking for the one that takes writes.
            url = ha_url(self.database_url, self.log_dir / "old-primary")
            self.processes = [CsmsProcess(url, self.log_dir / f"csms-{i}.log", url_in_env=True)
                              for i in range(2)]
            await asyncio.gather(*(p.start() for p in self.processes))
            self.balancer = Balancer([p.port for p in self.processes])
            await self.balancer.start()
            self.url = f"ws://127.0.0.1:{self.balancer.port}/ocpp"

    async def kill(self, pid: int) -> None:
        """SIGKILL the node process ``pid``; a separate ``csms serve`` is started again after
        ``restart_after_s`` (the service manager's part)."""
        for process in self.processes:
            if process.proc is not None and process.proc.pid == pid:
                await process.kill()
                task = asyncio.create_task(self._restart(process))
                self._restarts.add(task)
                task.add_done_callback(self._restarts.discard)
                return
        os.kill(pid, signal.SIGKILL)  # a worker: the serve process starts it again

    async def _restart(self, process: CsmsProcess) -> None:
        """Start it again until it runs, as ``Restart=always`` would (a start while the
        database is down exits with status 9)."""
        while True:
            await asyncio.sleep(self.settings.restart_after_s)
            try:
                await process.start()
                return
            except AssertionError:
                continue

    async def stop(self) -> None:
        await asyncio.gather(*self._restarts, return_exceptions=True)
        if self.balancer is not None:
            await self.balancer.stop()
        for process in self.processes:
            if process.proc is not None and process.proc.returncode is None:
                with contextlib.suppress(Exception):
                    await process.terminate()
            await process.stop()


def ha_url(url: str, unreachable: Path) -> str:
    """``url`` (of a PostgreSQL on a unix socket) as a client of a Patroni pair would name its
    servers: first a host that does not answer (a primary gone), then the real one, with
    ``target_session_attrs=read-write`` so that only a server taking writes is used."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["host"] = f"{unreachable},{query['host']}"
    query["target_session_attrs"] = "read-write"
    return urlunsplit(parts._replace(query=urlencode(query, safe="/,")))


async def leader(pool: asyncpg.Pool) -> str | None:
    """The node whose dispatcher holds the lock (its connection's application name)."""
    name = await pool.fetchval(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = $1",
        DISPATCHER_LOCK)
    return name.removeprefix("csms-dispatcher ") if name else None


async def live_nodes(pool: asyncpg.Pool) -> dict[str, int]:
    """node id -> pid of every node that holds its LISTEN connection now."""
    rows = await pool.fetch(
        "SELECT n.node_id, n.pid FROM nodes n WHERE n.stopped_at IS NULL AND EXISTS ("
        " SELECT 1 FROM pg_stat_activity a WHERE a.application_name = $1 || n.node_id)",
        commands.LISTENER_APPLICATION)
    return {r["node_id"]: r["pid"] for r in rows}


async def holders(pool: asyncpg.Pool, stations: list[Station]) -> dict[str, list[str]]:
    """node id -> the stations it holds."""
    rows = await pool.fetch("SELECT id, node_id FROM stations WHERE id = ANY($1::text[])"
                            " AND node_id IS NOT NULL", [s.id for s in stations])
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["node_id"], []).append(r["id"])
    return out


async def _safe(work: Callable[[], Awaitable[Any]]) -> Any:
    """``work()``, or None while the database is away."""
    try:
        return await work()
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return None


async def run_failover(database_url: str, log_dir: Path, settings: FailoverSettings,
                       cluster: Cluster | None = None) -> FailoverResult:
    """Run the fleet through one event with the settings' faults; collect what it cost."""
    if any(kind == "database" for _, kind in settings.faults) and cluster is None:
        raise ValueError("a database fault needs a cluster of the run's own")
    pool = await open_pool(database_url, max_size=4)
    ops = Operations(pool, database_url)
    deployment = Deployment(database_url, log_dir, settings)
    running: Running | None = None
    try:
        await deployment.start()
        await until(lambda: _count_nodes(pool, 2), what="both nodes up")
        stations = fleet(deployment.url, settings.stations, prefix="G", soc=settings.soc,
                         meter_interval_s=FLEET_METER_INTERVAL_S,
                         backoff_min_s=settings.backoff_min_s,
                         backoff_random_s=settings.backoff_random_s)
        await register(pool, stations)
        running = Running.start(stations)
        await until(lambda: _ready(pool, settings.stations), what="fleet plugged in")
        program = Program("failover", control_interval_s=settings.control_interval_s,
                          settle_s=settings.settle_s,
                          event_meter_interval_s=settings.meter_interval_s, retry_s=30.0)
        await grid_events.save_program(pool, program, replace=True)
        start = datetime.now(UTC) + timedelta(seconds=2)
        end = start + timedelta(seconds=settings.event_s)
        created = await create_event(pool, program.name, start, end, settings.target_kw)
        event_id = created.event_id
        results: list[FaultResult] = []
        for at_s, kind in settings.faults:
            await asyncio.sleep(max(0.0, (start + timedelta(seconds=at_s)
                                          - datetime.now(UTC)).total_seconds()))
            if results:
                await _settled(results[-1], pool, stations)
                # Faults are one at a time: the next waits for both nodes to be up again.
                await until(lambda: _safe(lambda: _count_nodes(pool, 2)),
                            what="two nodes up again", timeout=120)
            at_s = (datetime.now(UTC) - start).total_seconds()
            results.append(await _fault(kind, at_s, pool, ops, deployment, stations,
                                        cluster, settings))
        await asyncio.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()))
        if results:
            await _settled(results[-1], pool, stations)
        await until(lambda: _safe(lambda: _finished(pool, event_id)), what="event finished")
        # Both nodes up again: the killed one was started again (by the serve process, or by
        # the service manager's part here), as a new node.
        await until(lambda: _safe(lambda: _count_nodes(pool, 2)), what="two nodes up again",
                    timeout=180)
        nodes = sorted(await live_nodes(pool))
        for result in results:
            await _after(result, pool, ops, event_id)
        running.unplug_all()
        await until(lambda: _safe(lambda: all_ended(pool, stations)), what="every car left",
                    timeout=120)
        await until(lambda: all(not s.outbox for s in stations), what="queues replayed")
        return await _collect(pool, settings, event_id, start, results, stations, nodes)
    finally:
        if running is not None:
            await running.stop()
        await deployment.stop()
        await ops.stop()
        await pool.close()


async def _count_nodes(pool: asyncpg.Pool, n: int) -> bool:
    return len(await live_nodes(pool)) >= n


async def _ready(pool: asyncpg.Pool, count: int) -> bool:
    rows = await grid_fleet.plugged_in(pool)
    return len(rows) == count and all(r.soc_percent is not None and r.charging_needs
                                      for r in rows)


async def _finished(pool: asyncpg.Pool, event_id: int) -> bool:
    record = await grid_events.get_event(pool, event_id)
    return record is not None and record.finished_at is not None


async def _fault(kind: str, at_s: float, pool: asyncpg.Pool, ops: Operations,
                 deployment: Deployment, stations: list[Station], cluster: Cluster | None,
                 settings: FailoverSettings) -> FaultResult:
    result = FaultResult(kind, at_s)
    queued_for: str | None = None
    if kind == "database":
        assert cluster is not None
        result.fired_at, result.wall_at = time.monotonic(), datetime.now(UTC)
        await cluster.stop()
        await asyncio.sleep(settings.db_down_s)
        await cluster.start()
    else:
        # After a database restart the lock is free until a node takes it again.
        lead = await until(lambda: _safe(lambda: leader(pool)), what="a dispatcher leading")
        nodes = await live_nodes(pool)
        held = await holders(pool, stations)
        if kind == "leader":
            victim = lead
        else:
            victim = max(nodes, key=lambda n: len(held.get(n, [])))
        assert victim is not None and victim in nodes, (victim, nodes)
        result.node, result.was_leader = victim, victim == lead
        result.held = held.get(victim, [])
        result.sockets = len(result.held)
        result.fired_at, result.wall_at = time.monotonic(), datetime.now(UTC)
        await deployment.kill(nodes[victim])
        if kind == "sockets" and held.get(victim):
            queued_for = held[victim][0]
    if queued_for is not None:
        # An operator's command for a station whose node just died: queued, and delivered by
        # whichever node the station reconnects to.
        ids = await ops.submit(queued_for, *HEARTBEAT_TRIGGER, queue_for=timedelta(seconds=60))
        assert not isinstance(ids, Outcome), ids
        result.command = ids
    return result


async def _settled(result: FaultResult, pool: asyncpg.Pool, stations: list[Station]) -> None:
    """What the fault left once the next one comes (or the event ends): the stations it cost
    their connection and when each was back, where the dispatcher is, which nodes are up."""
    fired = result.fired_at
    for station in stations:
        back = [t for t in station.stats.connected_at if t > fired]
        if station.id in result.held or back:
            result.dropped += 1
            if back:
                result.back_s.append(back[0] - fired)
    result.leader_after = await _safe(lambda: leader(pool))
    result.nodes_after = sorted(await _safe(lambda: live_nodes(pool)) or {})


async def _after(result: FaultResult, pool: asyncpg.Pool, ops: Operations, event_id: int
                 ) -> None:
    wall = result.wall_at
    assert wall is not None
    steps = await grid_fleet.control_steps(pool, event_id)
    later = [s["at"] for s in steps if s["at"] > wall]
    before = [s["at"] for s in steps if s["at"] <= wall]
    result.step_again_s = (later[0] - wall).total_seconds() if later else None
    if later and before:
        result.step_gap_s = (later[0] - before[-1]).total_seconds()
    if result.command is not None:
        done = await ops.wait(*HEARTBEAT_TRIGGER, result.command, timeout=60)
        result.queued_command = done.status


async def _collect(pool: asyncpg.Pool, settings: FailoverSettings, event_id: int,
                   start: datetime, faults: list[FaultResult], stations: list[Station],
                   nodes: list[str]) -> FailoverResult:
    rows = await grid_fleet.event_evs(pool, event_id)
    members = [r for r in rows if r["state"] != "excluded"]
    pairs = [(r["station_id"], r["transaction_id"]) for r in members]
    end = start + timedelta(seconds=settings.event_s)
    series = await grid_fleet.register_series(pool, pairs, start - timedelta(minutes=1),
                                              end + timedelta(minutes=1))
    windows = []
    t = settings.control_interval_s
    while t + settings.window_s <= settings.event_s + 1e-9:
        a, b = start + timedelta(seconds=t), start + timedelta(seconds=t + settings.window_s)
        kwh = sum(net_export_kwh(s, a, b) for s in series.values())
        windows.append((t, kwh * 3600.0 / settings.window_s))
        t += settings.window_s
    steps = await grid_fleet.control_steps(pool, event_id)
    activations = await pool.fetchval(
        "SELECT count(*) FROM feed_events WHERE type = 'event.started'"
        " AND (data->>'event_id')::bigint = $1", event_id)
    raises = dict(await pool.fetch(
        "SELECT station_id, count(*) FROM commands WHERE action = 'SetVariables'"
        " AND payload @> $1::text::jsonb AND station_id = ANY($2::text[]) GROUP BY station_id",
        '{"setVariableData": [{"variable": {"name": "TxUpdatedInterval"}, "attributeValue": "'
        f'{settings.meter_interval_s}"}}]}}', [s.id for s in stations]))
    ids: dict[str, set[int]] = {}
    for r in await pool.fetch(
            "SELECT station_id, payload FROM commands WHERE action = 'SetChargingProfile'"
            " AND station_id = ANY($1::text[])", [s.id for s in stations]):
        profile = r["payload"]["chargingProfile"]
        if profile.get("stackLevel") == DISPATCH_STACK_LEVEL:
            key = f"{r['station_id']}/{r['payload']['evseId']}"
            ids.setdefault(key, set()).add(profile["id"])
    running_steps = [s for s in steps if s["at"] < end]
    last = running_steps[-1]["setpoints"] if running_steps else {}
    keys = [f"{r['station_id']}/{r['evse_id']}" for r in members]
    record = await grid_events.get_event(pool, event_id)
    assert record is not None
    return FailoverResult(
        settings=settings, event_id=event_id, start=start, faults=faults, steps=steps,
        members=keys, windows=windows, activations=activations, meter_rate_raises=raises,
        profile_ids=ids, forgotten=[k for k in keys if k not in last],
        audit=await audit(pool, stations), status=record.event.status, nodes=nodes)


def describe(result: FailoverResult) -> list[str]:
    """The figures of a run, one line each."""
    s = result.settings
    lines = [f"{s.deployment}: {s.stations} stations, {s.target_kw:.0f} kW for {s.event_s:.0f} s,"
             f" control interval {s.control_interval_s} s, {len(result.members)} EVs taking"
             f" part, {len(result.steps)} steps, event {result.status}"]
    for f in result.faults:
        who = (f"node {f.node} ({'dispatcher, ' if f.was_leader else ''}{f.sockets} sockets)"
               if f.node else "")
        back = (f"{len(f.back_s)}/{f.dropped} back after {min(f.back_s):.1f}..{max(f.back_s):.1f}"
                f" s (median {statistics.median(f.back_s):.1f})" if f.back_s
                else f"{f.dropped} dropped")
        step = "never" if f.step_again_s is None else f"{f.step_again_s:.1f} s" + (
            "" if f.step_gap_s is None else f" ({f.step_gap_s:.1f} s after the step before)")
        lines.append(f"  {f.kind} at {f.at_s:.0f} s {who}: loop steps again after {step};"
                     f" stations {back}; dispatcher now on {f.leader_after}"
                     + (f"; queued command {f.queued_command}" if f.queued_command else ""))
    target = s.target_kw
    cells = ", ".join(f"{t:.0f}s {100 * (kw - target) / target:+.1f}%" for t, kw in result.windows)
    lines.append(f"  30-s windows vs target: {cells}")
    out = result.outside()
    lines.append(f"  windows outside 5 %: {len(out)}"
                 + (" (" + ", ".join(f"{t:.0f}s {100 * e:+.1f}%" for t, e in out) + ")"
                    if out else ""))
    lines.append(f"  acknowledged values lost: {result.lost}; doubled: {result.doubled}"
                 f" (values {result.audit.doubled}, activations {result.activations},"
                 f" profile ids per EVSE {max(map(len, result.profile_ids.values()), default=0)})"
                 f"; EVs forgotten: {len(result.forgotten)}; {result.audit.events}"
                 " TransactionEvents stored")
    return lines
