"""An event's measurement and verification report, built from the stored meter values.

Which EVs count: every EV that took part (including those set aside during the event: a
station that kept charging after refusing its profile counts against the fleet). Energy is
read from each transaction's registers (:mod:`csms.grid.mv`); the baseline follows the
program; payments follow its compensation model (per kWh, or DSGS $/kW-month of the month's
demonstrated capacity, of which this event's share is its hours over the month's event hours).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from csms.grid.curves import EventCurves
from csms.grid.mv import (
    DriverResult,
    Interval,
    MonthlyCapacity,
    cut_times,
    demonstrated_capacity,
    driver_earnings,
    intervals,
    meter_before_after_baseline,
    net_export_kwh,
    prescriptive_baseline,
    presence,
)
from csms.grid.rates import month_key, monthly_rate
from csms.store.base import jsonable
from csms.store.db import Db
from csms.store.grid import events as store
from csms.store.grid import fleet as fleet_store
from csms.store.grid.records import GridEvent, Program, RegisterSample

BASELINE_WINDOW_S = 3600.0


@dataclass
class EventReport:
    """Everything ``csms events report`` prints."""

    event: GridEvent
    program: Program
    start: datetime
    end: datetime
    participants: int
    energy_kwh: float
    average_kw: float
    baseline_kw: float
    net_kw: float
    performance: float | None
    payment: float | None
    forecast_kw: float | None
    shortfall_kw: float | None
    intervals: list[Interval]
    hourly: list[Interval]
    month: MonthlyCapacity | None
    drivers: list[DriverResult]
    set_aside: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})


def _key(station_id: str, evse_id: int) -> str:
    return f"{station_id}/{evse_id}"


async def _series(db: Db, rows: list[dict[str, Any]], start: datetime, end: datetime,
                  exact_at: list[datetime], raw: bool) -> dict[str, list[RegisterSample]]:
    """Each EV's register series over ``[start, end]``: from the minutes, with every sample
    of the minutes holding a time of ``exact_at`` (the intervals' edges), so that each
    figure equals the one from every raw sample (``raw``: read those)."""
    pairs = [(r["station_id"], r["transaction_id"]) for r in rows]
    if raw:
        found = await fleet_store.register_series(db, pairs, start, end)
    else:
        found = await fleet_store.register_minutes(db, pairs, start, end, exact_at)
    return {_key(r["station_id"], r["evse_id"]): found.get((r["station_id"],
                                                            r["transaction_id"]), [])
            for r in rows}


async def _hourly_net(db: Db, event: GridEvent, program: Program,
                      until: datetime, raw: bool) -> list[Interval]:
    rows = [r for r in await fleet_store.event_evs(db, event.id) if r["state"] != "excluded"]
    end = min(event.end, until)
    if end <= event.start or not rows:
        return []
    margin = timedelta(seconds=BASELINE_WINDOW_S)
    series = await _series(db, rows, event.start - margin, end + margin,
                           cut_times(event.start, end, 3600, aligned=True), raw)
    baseline = _baseline(program, rows, series, event.start, end)
    steps = await fleet_store.control_steps(db, event.id)
    targets = [(s["at"], s["target_kw"]) for s in steps] or [(event.start, event.target_kw)]
    return intervals(series, event.start, end, 3600, targets, baseline, aligned=True,
                     present_from=_joined(rows))


def _joined(rows: list[dict[str, Any]]) -> dict[str, datetime]:
    """When each EV that joined a running event joined it."""
    return {_key(r["station_id"], r["evse_id"]): r["joined_at"] for r in rows
            if r.get("joined_at") is not None}


def _baseline(program: Program, rows: list[dict[str, Any]],
              series: dict[str, list[RegisterSample]], start: datetime,
              end: datetime) -> dict[str, float]:
    if program.baseline == "prescriptive":
        nameplate = {_key(r["station_id"], r["evse_id"]):
                     r["nameplate_kw"] or program.default_charger_kw for r in rows}
        return prescriptive_baseline(nameplate, program.baseline_percent)
    if program.baseline == "meter-before-after":
        return meter_before_after_baseline(series, start, end, BASELINE_WINDOW_S)
    return {}


async def build_report(db: Db, event_id: int, *, interval_s: float = 300.0,
                       now: datetime | None = None, raw: bool = False) -> EventReport:
    """Measure an event from the stored meter values (up to now while it runs).

    Whole minutes are read from the per-minute rollups (and the samples written since the
    rollup job last ran), the minutes holding an interval's edge from the samples: the
    figures are those every raw sample gives (``raw``: read every sample instead, the
    reference the tests hold the rollups to)."""
    record = await store.get_event(db, event_id)
    if record is None:
        raise LookupError(f"no event {event_id}")
    event = record.event
    program = await store.get_program(db, event.program)
    if program is None:
        raise LookupError(f"event {event_id}: no program {event.program}")
    now = now or datetime.now(UTC)
    end = max(event.start, min(event.end, now, record.finished_at or event.end))
    rows = [r for r in await fleet_store.event_evs(db, event_id) if r["state"] != "excluded"]
    margin = timedelta(seconds=BASELINE_WINDOW_S)
    edges = [*cut_times(event.start, end, interval_s),
             *cut_times(event.start, end, 3600, aligned=True)] if end > event.start else []
    series = await _series(db, rows, event.start - margin, end + margin, edges, raw)
    baseline = _baseline(program, rows, series, event.start, end)
    steps = await fleet_store.control_steps(db, event_id)
    targets = [(s["at"], s["target_kw"]) for s in steps] or [(event.start, event.target_kw)]
    joined = _joined(rows)
    cut = intervals(series, event.start, end, interval_s, targets, baseline,
                    present_from=joined) if end > event.start else []
    hourly = intervals(series, event.start, end, 3600, targets, baseline, aligned=True,
                       present_from=joined) if end > event.start else []
    energy = {k: net_export_kwh(s, event.start, end) for k, s in series.items()}
    hours = (end - event.start).total_seconds() / 3600.0
    total = sum(energy.values())
    # an EV that joined late counts its baseline from then on only
    there = {k: presence(joined.get(k), event.start, end) for k in energy}
    base_total = sum(v * there[k] for k, v in baseline.items())
    average = total / hours if hours > 0 else 0.0
    net = average - base_total
    month = None
    if program.compensation == "dsgs":
        month, payment = await _dsgs(db, event, program, hourly, now, raw)
    else:
        payment = program.rate_per_kwh * max(0.0, net * hours)
    net_energy = {k: v - baseline.get(k, 0.0) * hours * there[k] for k, v in energy.items()}
    earnings = driver_earnings(net_energy, payment or 0.0, program.driver_share)
    socs = await fleet_store.soc_between(
        db, [(r["station_id"], r["transaction_id"]) for r in rows], event.start, end, raw=raw)
    drivers = []
    for r in rows:
        key = _key(r["station_id"], r["evse_id"])
        soc0, soc1 = socs[(r["station_id"], r["transaction_id"])]
        drivers.append(DriverResult(key, r["id_token"], round(energy[key], 4),
                                    earnings.get(key, 0.0), soc0, soc1))
    target = event.target_kw
    return EventReport(
        event=event, program=program, start=event.start, end=end, participants=len(rows),
        energy_kwh=total, average_kw=average, baseline_kw=base_total, net_kw=net,
        performance=None if not target else net / target, payment=payment,
        forecast_kw=record.forecast_kw, shortfall_kw=record.shortfall_kw, intervals=cut,
        hourly=hourly, month=month, drivers=drivers,
        set_aside={_key(r["station_id"], r["evse_id"]): r["reason"] for r in rows
                   if r["state"] == "set_aside"})


async def _dsgs(db: Db, event: GridEvent, program: Program, hourly: list[Interval],
                now: datetime, raw: bool) -> tuple[MonthlyCapacity, float | None]:
    """The month's demonstrated capacity over its event hours, and this event's part of the
    month's payment (its hours over the month's)."""
    first = event.start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first + timedelta(days=32)).replace(day=1)
    nets: list[float] = []
    for other in await store.events_in_month(db, program.name, first, following):
        if other.event.id == event.id:
            nets.extend(i.net_kw for i in hourly)
        else:
            nets.extend(i.net_kw for i in await _hourly_net(db, other.event, program, now,
                                                             raw))
    rate = monthly_rate(event.start, program.monthly_rates)
    month = demonstrated_capacity(month_key(event.start), nets, rate)
    if month.payment is None or not nets:
        return month, None
    return month, month.payment * len(hourly) / len(nets)


def write_csv(report: EventReport, out: TextIO) -> None:
    """The report's intervals as CSV: one row per interval, a column per EV's kWh."""
    keys = sorted({k for i in report.intervals for k in i.by_station_kwh})
    writer = csv.writer(out)
    writer.writerow(["start", "end", "target_kw", "delivered_kw", "delivered_kwh",
                     "baseline_kw", "net_kw", "performance", *[f"{k} kWh" for k in keys]])
    for i in report.intervals:
        writer.writerow([i.start.isoformat(), i.end.isoformat(),
                         "" if i.target_kw is None else f"{i.target_kw:.3f}",
                         f"{i.delivered_kw:.3f}", f"{i.delivered_kwh:.5f}",
                         f"{i.baseline_kw:.3f}", f"{i.net_kw:.3f}",
                         "" if i.performance is None else f"{i.performance:.4f}",
                         *[f"{i.by_station_kwh.get(k, 0.0):.5f}" for k in keys]])


def write_png(report: EventReport, drawn: EventCurves, path: Path) -> None:
    """Three panels over the event: the fleet's export at meter resolution against the target
    (with the M&V intervals' delivered kW), each EV's part stacked, and each EV's SoC against
    its floor and departure need."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, (top, middle, bottom) = plt.subplots(
        3, 1, figsize=(11, 10), sharex=True, gridspec_kw={"height_ratios": [3, 3, 2]})
    times = drawn.times
    colours = plt.get_cmap("tab10").colors
    if len(times) > 1:
        top.step(times, [t if t is not None else float("nan") for t in drawn.target_kw],
                 where="post", color="black", linewidth=2, label="target")
        top.step(times, drawn.measured_kw, where="post", color="#c0392b", linewidth=1.2,
                 label=f"measured (every {drawn.step_s:g} s)")
        if report.intervals:
            cut = report.intervals
            top.step([i.start for i in cut] + [cut[-1].end],
                     [i.delivered_kw for i in cut] + [cut[-1].delivered_kw], where="post",
                     color="#2471a3", linewidth=1, linestyle="--",
                     label="delivered per M&V interval")
        exporting = [[max(0.0, v) for v in e.kw] for e in drawn.evs]
        charging = [[min(0.0, v) for v in e.kw] for e in drawn.evs]
        labels = [e.key for e in drawn.evs]
        palette = [colours[n % len(colours)] for n in range(len(drawn.evs))]
        if drawn.evs:
            middle.stackplot(times, exporting, labels=labels, colors=palette, alpha=0.85,
                             step="post")
            if any(v < 0 for row in charging for v in row):
                middle.stackplot(times, charging, colors=palette, alpha=0.4, step="post")
        middle.axhline(0, color="grey", linewidth=0.6)
    for n, ev in enumerate(drawn.evs):
        colour = colours[n % len(colours)]
        if ev.soc:
            bottom.plot([t for t, _ in ev.soc], [v for _, v in ev.soc], color=colour,
                        linewidth=1.2, label=ev.key)
        if ev.floor_percent is not None:
            bottom.axhline(ev.floor_percent, color=colour, linewidth=0.8, linestyle=":")
        if ev.need_percent is not None:
            bottom.axhline(ev.need_percent, color=colour, linewidth=0.8, linestyle="--")
    top.set_title(f"Event {report.event.id} ({report.program.name}): fleet export against "
                  "target")
    top.set_ylabel("fleet export, kW")
    top.legend(loc="lower right", fontsize="small")
    middle.set_title("Each EV's part (below zero: charging)")
    middle.set_ylabel("export, kW")
    if 0 < len(drawn.evs) <= 20:
        middle.legend(loc="upper left", fontsize="x-small", ncol=4)
    bottom.set_title("State of charge (dotted: floor, dashed: departure need)")
    bottom.set_ylabel("SoC, %")
    bottom.set_ylim(0, 100)
    bottom.set_xlabel("time (UTC)")
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S", tz=UTC))
    for ax in (top, middle, bottom):
        ax.grid(True, alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
