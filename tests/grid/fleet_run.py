"""A lean fleet run over real sockets for the site, scheduler and optimiser tests: a CSMS node
with its dispatcher, a few simulated stations from a scenario (with a site and its main meter),
one or more events, and what the database holds afterwards.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from csms.grid.mv import net_export_kwh
from csms.grid.service import create_event
from csms.store.grid import events as grid_events
from csms.store.grid import fleet as grid_fleet
from csms.store.grid import sites as site_store
from csms.store.grid.records import Program, RegisterSample
from simulators.scenario import parse_scenario
from simulators.simulated_fleet import Fleet, FleetOptions, build_configs
from tests.grid.harness import all_plugged_in, start_system, wait_until
from tests.operations.conftest import running

PASSWORD = "fleet-run-password-01"


@dataclass(frozen=True)
class EventSpec:
    """An event of the run: its program, start (seconds after the run's lead time), length
    and target (None: as much as possible)."""

    program: Program
    start_s: float
    duration_s: float
    target_kw: float | None


@dataclass
class FleetRun:
    """The run's fleet, site and events."""

    scenario: dict[str, Any]
    stations: int
    events: list[EventSpec]
    #: (import kW, export kW) of the site all the stations are at, or None: no site
    site: tuple[float, float] | None = None
    lead_s: float = 12.0
    #: station number -> seconds after the last event's end when its car leaves, wanting back
    #: the SoC it arrived with
    departures: dict[int, float] = field(default_factory=dict)
    #: a departing car wants back exactly the SoC it arrived with (not rounded down), so any
    #: discharge during an event has to be recharged
    exact_targets: bool = False
    tail_s: float = 3.0
    seed: int = 1
    #: the program each event's program is (re)stored with: allocator settings etc.
    extra_programs: list[Program] = field(default_factory=list)


@dataclass
class RunOutcome:
    """What the run left in the database."""

    t0: datetime
    event_ids: list[int]
    #: main meter (EVSE 0 of the first station): (time, net import kW at the connection)
    connection: list[tuple[datetime, float]]
    steps: dict[int, list[dict[str, Any]]]
    evs: dict[int, list[dict[str, Any]]]
    series: dict[str, list[RegisterSample]]
    arrival_soc: dict[str, float]
    last_soc: dict[str, float]
    ended: dict[str, datetime]
    building: Any = None

    def delivered_kw(self, keys: list[str] | None, start: datetime, end: datetime) -> float:
        """Average net export (kW) of the EVs ``keys`` (all if None) over ``[start, end]``."""
        chosen = self.series if keys is None else {k: self.series[k] for k in keys
                                                   if k in self.series}
        kwh = sum(net_export_kwh(s, start, end) for s in chosen.values())
        return kwh * 3600.0 / (end - start).total_seconds()


async def run_fleet(database_url: str, spec: FleetRun) -> RunOutcome:
    """Run the fleet through the events and collect what the database holds."""
    system, pool = await start_system(database_url)
    scenario = parse_scenario(spec.scenario)
    options = FleetOptions(url=f"ws://127.0.0.1:{system.port}/ocpp", stations=spec.stations,
                           password=PASSWORD, seed=spec.seed, control_interval_s=0.5)
    t0 = datetime.now(UTC) + timedelta(seconds=spec.lead_s)
    last_end = max(t0 + timedelta(seconds=e.start_s + e.duration_s) for e in spec.events)
    configs = build_configs(options, scenario)
    arrival_soc = {}
    for i, config in enumerate(configs):
        visit = config.arrivals[0][1]
        key = f"{config.station_id}/1"
        arrival_soc[key] = visit.battery.soc
        if i + 1 in spec.departures:
            visit.departure_at = last_end.timestamp() + spec.departures[i + 1]
            # wants back what it arrived with (rounded down: it does not charge before)
            visit.target_soc = (visit.battery.soc if spec.exact_targets
                                else math.floor(visit.battery.soc * 100) / 100)
        configs[i] = replace(config)
    event_ids: list[int] = []
    async with running(Fleet(configs), stop_within=20):
        await wait_until(lambda: all_plugged_in(pool, spec.stations), spec.lead_s - 2)
        if spec.site is not None:
            await site_store.add_site(pool, site_store.Site(
                "site", spec.site[0], spec.site[1], configs[0].station_id))
            await site_store.assign(pool, "site", [c.station_id for c in configs])
        for program in {e.program.name: e.program for e in spec.events}.values():
            await grid_events.save_program(pool, program, replace=True)
        for e in spec.events:
            start = t0 + timedelta(seconds=e.start_s)
            created = await create_event(pool, e.program.name, start,
                                         start + timedelta(seconds=e.duration_s), e.target_kw)
            event_ids.append(created.event_id)

        async def finished() -> bool:
            for event_id in event_ids:
                record = await grid_events.get_event(pool, event_id)
                if record is None or record.finished_at is None:
                    return False
            return True

        await wait_until(finished, (last_end - datetime.now(UTC)).total_seconds() + 60)
        last = max([last_end, *(last_end + timedelta(seconds=s)
                                for s in spec.departures.values())])
        await asyncio.sleep(max(spec.tail_s, (last - datetime.now(UTC)).total_seconds()
                                + spec.tail_s))
    try:
        return await _collect(pool, t0, event_ids, configs[0].station_id, arrival_soc)
    finally:
        await system.stop()


async def _collect(pool: asyncpg.Pool, t0: datetime, event_ids: list[int], meter: str,
                   arrival_soc: dict[str, float]) -> RunOutcome:
    rows = await pool.fetch(
        "SELECT timestamp, measurand, value FROM meter_values WHERE station_id = $1"
        " AND evse_id = 0 AND measurand IN ('Power.Active.Import', 'Power.Active.Export')"
        " ORDER BY timestamp", meter)
    by_time: dict[datetime, float] = {}
    for at, measurand, watts in rows:
        sign = 1.0 if measurand == "Power.Active.Import" else -1.0
        by_time[at] = by_time.get(at, 0.0) + sign * watts / 1000.0
    steps = {e: await grid_fleet.control_steps(pool, e) for e in event_ids}
    evs = {e: await grid_fleet.event_evs(pool, e) for e in event_ids}
    txs = await pool.fetch("SELECT station_id, evse_id, transaction_id, ended_at"
                           " FROM transactions WHERE evse_id > 0")
    pairs = [(r[0], r[2]) for r in txs]
    raw = await grid_fleet.register_series(pool, pairs, t0 - timedelta(minutes=5),
                                           datetime.now(UTC))
    series = {f"{s}/1": raw[(s, tx)] for s, tx in pairs}
    last_soc, ended = {}, {}
    for station, evse, tx, end in txs:
        key = f"{station}/{evse}"
        soc = await pool.fetchval(
            "SELECT value FROM meter_values WHERE station_id = $1 AND transaction_id = $2"
            " AND measurand = 'SoC' ORDER BY timestamp DESC LIMIT 1", station, tx)
        if soc is not None:
            last_soc[key] = soc / 100.0
        if end is not None:
            ended[key] = end
    return RunOutcome(t0, event_ids, sorted(by_time.items()), steps, evs, series, arrival_soc,
                      last_soc, ended)
