"""A grid event run end to end: a CSMS node with the dispatcher, the ``grid_event`` scenario's
simulated fleet, an event on target and one above capacity, and what the database then holds.

Shared by ``tests/grid/test_grid_event_e2e.py`` (short) and
``tests/benchmarks/bench_grid_event.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from csms.grid.mv import net_export_kwh
from csms.grid.report import EventReport, build_report
from csms.grid.service import Created, create_event
from csms.server import CentralSystem
from csms.store.grid import events as grid_events
from csms.store.grid import fleet as grid_fleet
from csms.store.grid.records import Program, RegisterSample
from simulators.scenario import load_scenario
from simulators.simulated_fleet import Fleet, FleetOptions, build_configs
from tests.conftest import open_config
from tests.operations.conftest import running

SCENARIO = Path(__file__).resolve().parents[2] / "simulators" / "scenarios" / "grid_event.toml"
PASSWORD = "grid-event-password-01"


@dataclass
class RunSettings:
    """The run: fleet size, event lengths and targets, control timing, departures to force."""

    stations: int = 30
    seed: int = 1
    lead_s: float = 15.0
    event_s: float = 90.0
    target_kw: float = 300.0
    over_s: float = 30.0
    over_kw: float = 1000.0
    control_interval_s: int = 12
    settle_s: float = 7.0
    #: an EV set aside gets another chance after this long (twice as long each further time)
    retry_s: float = 30.0
    meter_interval_s: int = 2
    window_s: float = 30.0
    #: station number -> seconds after the first event's end when its car leaves; its target
    #: SoC is set to its SoC at arrival (so the dispatcher must bring it back)
    departures: dict[int, float] = field(default_factory=lambda: {9: 25.0, 17: 25.0})
    #: seconds into the first event when one car (of a healthy station, well above its floor)
    #: arrives: it must join the running event
    late_s: float = 40.0
    #: the stations' energy and power readings in Wh and W, or in kWh and kW
    energy_unit: str = "Wh"
    #: the program's compensation: DSGS $/kW-month, or $ per kWh at this rate
    per_kwh: float | None = None


@dataclass
class RunResult:
    """What a run leaves behind, read back from the database."""

    on_target: Created
    above: Created
    first_status: str
    second_status: str
    participants: list[dict[str, Any]]
    excluded: list[dict[str, Any]]
    series: dict[str, list[RegisterSample]]
    above_series: dict[str, list[RegisterSample]]
    steps: list[dict[str, Any]]
    above_steps: list[dict[str, Any]]
    #: the EV that arrived during the first event
    late: str
    min_soc: dict[str, float]
    last_soc: dict[str, float]
    ended: dict[str, datetime]
    targets: dict[str, float]
    summary: dict[str, Any]
    report: EventReport
    raw_registers: dict[str, dict[str, list[tuple[datetime, float]]]]

    def windows(self, start: datetime, end: datetime, first_s: float, length_s: float,
                *, above: bool = False) -> list[tuple[datetime, float]]:
        """(start, measured fleet export kW) of each full window from ``start + first_s``,
        over the first event's EVs (or the second's)."""
        out = []
        series = self.above_series if above else self.series
        t = start + timedelta(seconds=first_s)
        step = timedelta(seconds=length_s)
        while t + step <= end:
            kwh = sum(net_export_kwh(s, t, t + step) for s in series.values())
            out.append((t, kwh * 3600.0 / length_s))
            t += step
        return out


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float) -> None:
    """Poll ``predicate`` every half second until it holds; AssertionError after ``timeout`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError(f"not ready within {timeout} s")
        await asyncio.sleep(0.5)


async def start_system(database_url: str) -> tuple[CentralSystem, asyncpg.Pool]:
    """A CSMS on a free port of 127.0.0.1 that registers stations on first contact; with its
    pool."""
    system = CentralSystem(open_config(database_url, heartbeat_interval=300))
    await system.start()
    assert system.pool is not None
    return system, system.pool


async def all_plugged_in(pool: asyncpg.Pool, stations: int) -> bool:
    """Whether ``stations`` EVs are plugged in, each with its SoC and charging needs known."""
    rows = await grid_fleet.plugged_in(pool)
    return len(rows) == stations and all(
        r.soc_percent is not None and r.charging_needs for r in rows)


async def run(database_url: str, settings: RunSettings) -> RunResult:
    """Run the fleet through both events and collect the results."""
    system, pool = await start_system(database_url)
    scenario = load_scenario(SCENARIO)
    options = FleetOptions(url=f"ws://127.0.0.1:{system.port}/ocpp", stations=settings.stations,
                           password=PASSWORD, seed=settings.seed, control_interval_s=0.5,
                           energy_unit=settings.energy_unit)
    t_start = datetime.now(UTC) + timedelta(seconds=settings.lead_s)
    t_end = t_start + timedelta(seconds=settings.event_s)
    configs = build_configs(options, scenario)
    faulty = {f.station_id for f in scenario.scheduled}
    late = next(i for i, c in enumerate(configs)
                if int(c.station_id.removeprefix("SIM")) not in settings.departures
                and c.station_id.removeprefix("SIM") not in faulty
                and c.arrivals[0][1].battery.soc >= 0.5)
    configs[late] = replace(configs[late], arrivals=[
        (t_start.timestamp() + settings.late_s, configs[late].arrivals[0][1])])
    targets = {}
    for config in configs:
        visit = config.arrivals[0][1]
        number = int(config.station_id.removeprefix("SIM"))
        if number in settings.departures:
            visit.departure_at = t_end.timestamp() + settings.departures[number]
            visit.target_soc = round(visit.battery.soc, 2)
        targets[f"{config.station_id}/1"] = visit.target_soc
    async with running(Fleet(configs), stop_within=20) as fleet:
        # the late EV arrives after the events are created
        await wait_until(lambda: all_plugged_in(pool, settings.stations - 1),
                         settings.lead_s - 3)
        program = Program("grid-test", compensation="dsgs" if settings.per_kwh is None
                          else "per-kwh", rate_per_kwh=settings.per_kwh or 0.0,
                          control_interval_s=
                          settings.control_interval_s, settle_s=settings.settle_s,
                          event_meter_interval_s=settings.meter_interval_s,
                          retry_s=settings.retry_s)
        await grid_events.save_program(pool, program, replace=True)
        on_target = await create_event(pool, program.name, t_start, t_end, settings.target_kw)
        o_start = t_end + timedelta(seconds=5)
        o_end = o_start + timedelta(seconds=settings.over_s)
        above = await create_event(pool, program.name, o_start, o_end, settings.over_kw)

        async def finished() -> bool:
            record = await grid_events.get_event(pool, above.event_id)
            return record is not None and record.event.status in ("completed", "cancelled") \
                and record.finished_at is not None

        total = (o_end - datetime.now(UTC)).total_seconds()
        await wait_until(finished, total + 60)
        last_departure = t_end + timedelta(seconds=max(settings.departures.values(), default=0))
        await asyncio.sleep(max(2.0, (last_departure - datetime.now(UTC)).total_seconds() + 3))
        summary = fleet.summary()
    try:
        return await _collect(pool, on_target, above, t_start, o_end, targets, summary,
                              f"{configs[late].station_id}/1")
    finally:
        await system.stop()


async def _collect(pool: asyncpg.Pool, on_target: Created, above: Created, t_start: datetime,
                   o_end: datetime, targets: dict[str, float],
                   summary: dict[str, Any], late: str) -> RunResult:
    async def series_of(event_id: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        rows = await grid_fleet.event_evs(pool, event_id)
        pairs = [(r["station_id"], r["transaction_id"]) for r in rows
                 if r["state"] != "excluded"]
        raw = await grid_fleet.register_series(pool, pairs, t_start - timedelta(minutes=5),
                                               o_end + timedelta(minutes=5))
        return rows, {f"{s}/1": raw[(s, tx)] for s, tx in pairs}

    rows, series = await series_of(on_target.event_id)
    _, above_series = await series_of(above.event_id)
    participants = [r for r in rows if r["state"] != "excluded"]
    min_soc, last_soc, ended = {}, {}, {}
    for r in rows:
        key = f"{r['station_id']}/{r['evse_id']}"
        socs = await pool.fetch(
            "SELECT timestamp, value FROM meter_values WHERE station_id = $1 AND"
            " transaction_id = $2 AND measurand = 'SoC' ORDER BY timestamp",
            r["station_id"], r["transaction_id"])
        if socs:
            min_soc[key] = min(v for _, v in socs if _ >= t_start) if any(
                t >= t_start for t, _ in socs) else socs[-1][1]
            last_soc[key] = socs[-1][1]
        end = await pool.fetchval(
            "SELECT ended_at FROM transactions WHERE station_id = $1 AND transaction_id = $2",
            r["station_id"], r["transaction_id"])
        if end is not None:
            ended[key] = end
    raw_registers: dict[str, dict[str, list[tuple[datetime, float]]]] = {}
    for r in participants:
        key = f"{r['station_id']}/{r['evse_id']}"
        for at, measurand, value in await pool.fetch(
                "SELECT timestamp, measurand, value FROM meter_values WHERE station_id = $1"
                " AND transaction_id = $2 AND measurand LIKE 'Energy.Active.%.Register'"
                " ORDER BY timestamp", r["station_id"], r["transaction_id"]):
            raw_registers.setdefault(key, {}).setdefault(measurand, []).append((at, value))
    first = await grid_events.get_event(pool, on_target.event_id)
    second = await grid_events.get_event(pool, above.event_id)
    assert first is not None and second is not None
    return RunResult(
        on_target=on_target, above=above, first_status=first.event.status,
        second_status=second.event.status, participants=participants,
        excluded=[r for r in rows if r["state"] == "excluded"], series=series,
        above_series=above_series,
        steps=await grid_fleet.control_steps(pool, on_target.event_id),
        above_steps=await grid_fleet.control_steps(pool, above.event_id),
        min_soc=min_soc, last_soc=last_soc, ended=ended, targets=targets, summary=summary,
        report=await build_report(pool, on_target.event_id, interval_s=30.0),
        raw_registers=raw_registers, late=late)
