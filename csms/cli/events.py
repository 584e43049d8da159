"""``csms events``: grid events — create, import a market partner's dispatch, list, show,
cancel, and the measurement and verification report."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer

from csms import readable
from csms.cli.base import DatabaseUrlOption, DataDirOption, GroupOption, JsonOption, with_store
from csms.cli.errors import CliError, ExitCode, not_found, usage
from csms.cli.output import print_fields, print_json, print_table
from csms.cli.times import duration_option, time_option
from csms.grid.curves import EventCurves, event_curves
from csms.grid.report import EventReport, build_report, write_csv, write_png
from csms.grid.service import create_event, import_dispatch
from csms.store.grid import events as store
from csms.store.grid import fleet as fleet_store
from csms.store.grid.records import EVENT_STATUSES, GridInputError

app = typer.Typer(help="Create, import, follow and verify grid events.", no_args_is_help=True)

EventId = Annotated[int, typer.Argument(metavar="ID", help="Event id.", min=1,
                                        max=2**63 - 1)]


def _grid_errors(exc: Exception) -> CliError:
    if isinstance(exc, GridInputError):
        return usage(str(exc))
    return not_found(str(exc))


@app.command("create")
def create(
    start: Annotated[str, typer.Option("--start", metavar="WHEN",
                                       help="Start: ISO 8601 (UTC unless offset), now, +10m.")],
    duration: Annotated[str, typer.Option("--duration", metavar="D", help="Length, e.g. 2h.")],
    target_kw: Annotated[float | None, typer.Option("--target-kw", metavar="KW",
                                                    help="Export to hold, kW.")] = None,
    maximum: Annotated[bool, typer.Option("--max", help="As much as the fleet can give.")]
    = False,
    program: Annotated[str | None, typer.Option(help="Program (default: 'default').")] = None,
    group: GroupOption = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Schedule an event; prints the capacity forecast and any shortfall before it starts."""
    if (target_kw is None) == (not maximum):
        raise usage("give exactly one of --target-kw KW and --max")
    if target_kw is not None and not 0 < target_kw < 1e7:
        raise usage(f"--target-kw: must be a positive number of kW, got {target_kw}")
    begin = time_option("--start", start)
    length = duration_option("--duration", duration)
    if length.total_seconds() <= 0:
        raise usage("--duration: must be positive")

    async def go(db: asyncpg.Pool) -> Any:
        try:
            return await create_event(db, program, begin, begin + length, target_kw, group)
        except (GridInputError, LookupError) as exc:
            raise _grid_errors(exc) from None

    created = with_store(database_url, data_dir, go)
    cap = created.capacity
    out = {"event": created.event_id, "start": begin, "end": begin + length,
           "target_kw": target_kw, "forecast_kw": round(cap.total_kw, 1),
           "firm_kw": round(cap.firm_kw, 1), "reserve_kw": round(cap.reserve_kw, 1),
           "eligible_evs": cap.eligible, "committed_kw": round(cap.committed_kw, 1),
           "shortfall_kw": round(created.shortfall_kw, 1)}
    if json_out:
        print_json(out)
        return
    print_fields(out)
    if created.shortfall_kw > 0:
        typer.echo(f"warning: the fleet can hold about {cap.total_kw:.1f} kW; "
                   f"{created.shortfall_kw:.1f} kW short of the target", err=True)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Dispatch JSON ('-': stdin).")],
    program: Annotated[str | None, typer.Option(
        help="Program for timeslots naming none that exists here.")] = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Import a market partner's dispatch; importing it again updates or cancels its events."""
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except OSError as exc:
        raise usage(f"FILE: cannot read {file}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise usage(f"FILE: not JSON: {exc}") from None

    async def go(db: asyncpg.Pool) -> Any:
        try:
            return await import_dispatch(db, data, program)
        except GridInputError as exc:
            raise usage(f"FILE {file}: {exc}") from None
        except LookupError as exc:
            raise not_found(str(exc)) from None

    results = with_store(database_url, data_dir, go)
    if json_out:
        print_json(results)
        return
    print_table([vars(r) for r in results], ["external_id", "event_id", "action",
                                             "shortfall_kw"], empty="nothing imported")


@app.command("list")
def list_(
    status: Annotated[str | None, typer.Option(
        help=f"Only events of this status: {', '.join(EVENT_STATUSES)}.")] = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List events, latest start first."""
    if status is not None and status not in EVENT_STATUSES:
        raise usage(f"--status: must be one of {', '.join(EVENT_STATUSES)}")
    records = with_store(database_url, data_dir, lambda db: store.list_events(db, status))
    rows = [_event_fields(r) for r in records]
    if json_out:
        print_json(rows)
        return
    print_table(rows, ["id", "program", "status", "start", "end", "target_kw", "forecast_kw",
                       "shortfall_kw", "group", "external_id"], empty="no events")


def _event_fields(record: store.EventRecord) -> dict[str, Any]:
    e = record.event
    return {"id": e.id, "program": e.program, "status": e.status, "start": e.start,
            "end": e.end, "target_kw": "max" if e.target_kw is None else e.target_kw,
            "forecast_kw": record.forecast_kw, "firm_kw": record.firm_kw,
            "shortfall_kw": record.shortfall_kw, "group": e.group,
            "nomination_kw": e.nomination_kw, "external_id": e.external_id,
            "activated_at": record.activated_at, "finished_at": record.finished_at,
            "note": record.note}


@app.command("show")
def show(event_id: EventId, json_out: JsonOption = False,
         database_url: DatabaseUrlOption = None, data_dir: DataDirOption = None) -> None:
    """Show an event, its EVs (taking part, excluded, set aside) and its last control step."""

    async def go(db: asyncpg.Pool) -> Any:
        record = await store.get_event(db, event_id)
        if record is None:
            raise not_found(f"no event {event_id}")
        steps = await fleet_store.control_steps(db, event_id)
        return record, await fleet_store.event_evs(db, event_id), steps

    record, evs, steps = with_store(database_url, data_dir, go)
    data = _event_fields(record) | {"steps": len(steps),
                                    "last_step": steps[-1] if steps else None}
    if json_out:
        print_json(data | {"evs": evs})
        return
    last = data["last_step"]
    if last is not None:  # setpoints are kW per EV: named so, they print to 0.1 kW
        data["last_step"] = {("setpoints_kw" if k == "setpoints" else k): v
                             for k, v in last.items()}
    print_fields(data)
    typer.echo("")
    print_table([r | {"soc_start": readable.soc_fraction(r["soc_start"]),
                      "floor_soc": readable.soc_fraction(r["floor_soc"]),
                      "departure_soc": readable.soc_fraction(r["departure_soc"])}
                 for r in evs],
                ["station_id", "evse_id", "state", "reason", "soc_start", "floor_soc",
                 "departure_at", "departure_soc", "joined_at", "setpoint_kw"],
                empty="no EVs yet")


@app.command("cancel")
def cancel(event_id: EventId, database_url: DatabaseUrlOption = None,
           data_dir: DataDirOption = None) -> None:
    """Cancel a scheduled or active event (an active one stops at its next control step)."""
    status = with_store(database_url, data_dir, lambda db: store.cancel_event(db, event_id))
    if status is None:
        raise not_found(f"no event {event_id}")
    if status not in ("scheduled", "active"):
        raise CliError(f"event {event_id} is already {status}", ExitCode.CONFLICT)
    typer.echo(f"event {event_id} cancelled" + (
        " (stops at its next control step)" if status == "active" else ""))


@app.command("report")
def report(
    event_id: EventId,
    json_out: JsonOption = False,
    csv_file: Annotated[Path | None, typer.Option("--csv", metavar="FILE",
                                                  help="Write the intervals as CSV.")] = None,
    png_file: Annotated[Path | None, typer.Option("--png", metavar="FILE",
                                                  help="Chart target vs delivered.")] = None,
    interval: Annotated[str, typer.Option(help="Interval length, e.g. 5m, 30s.")] = "5m",
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Delivered export per interval and per hour against target and baseline, performance,
    DSGS demonstrated capacity and payment, and each driver's energy and earnings.
    ``--png`` draws the fleet's export at meter resolution against the target, each EV's
    part stacked, and every EV's SoC against its floor and departure need."""
    seconds = duration_option("--interval", interval).total_seconds()
    if seconds < 1:
        raise usage("--interval: must be at least 1s")

    async def go(db: asyncpg.Pool) -> tuple[EventReport, EventCurves | None]:
        try:
            built = await build_report(db, event_id, interval_s=seconds)
            drawn = await event_curves(db, event_id) if png_file is not None else None
        except LookupError as exc:
            raise not_found(str(exc)) from None
        return built, drawn

    result, drawn = with_store(database_url, data_dir, go)
    try:
        if csv_file is not None:
            with csv_file.open("w", newline="", encoding="utf-8") as out:
                write_csv(result, out)
        if png_file is not None and drawn is not None:
            write_png(result, drawn, png_file)
    except OSError as exc:
        raise usage(f"cannot write {exc.filename}: {exc.strerror}") from None
    if json_out:
        print_json(result.to_dict())
        return
    _print_report(result)


def _print_report(r: EventReport) -> None:
    e = r.event
    print_fields({
        "event": e.id, "program": r.program.name, "status": e.status, "window":
        f"{r.start.isoformat()} to {r.end.isoformat()}",
        "target_kw": "max" if e.target_kw is None else e.target_kw,
        "forecast_kw": r.forecast_kw, "shortfall_kw": r.shortfall_kw,
        "evs": r.participants, "energy_kwh": r.energy_kwh,
        "average_kw": r.average_kw, "baseline": f"{r.program.baseline} "
        f"({readable.kw(r.baseline_kw)} kW)", "net_kw": r.net_kw,
        "performance": None if r.performance is None else f"{r.performance:.1%}",
        "payment": None if r.payment is None else f"${r.payment:.2f}",
        "set_aside": r.set_aside or None})
    if r.month is not None:
        typer.echo(f"DSGS {r.month.month}: demonstrated {r.month.demonstrated_kw:.2f} kW over "
                   f"{r.month.hours} event hour(s), rate {r.month.rate_per_kw_month or '-'} "
                   f"$/kW-month, month payment "
                   f"{'-' if r.month.payment is None else f'${r.month.payment:.2f}'}")
    for title, cut in (("intervals", r.intervals), ("hours", r.hourly)):
        typer.echo(f"\n{title}")
        print_table([{"start": i.start, "target_kw": i.target_kw,
                      "delivered_kw": i.delivered_kw, "delivered_kwh": i.delivered_kwh,
                      "net_kw": i.net_kw,
                      "performance": None if i.performance is None else
                      f"{i.performance:.1%}"} for i in cut],
                    ["start", "target_kw", "delivered_kw", "delivered_kwh", "net_kw",
                     "performance"], empty="no measurements yet")
    typer.echo("\ndrivers")
    print_table([vars(d) | {"earnings": readable.money(d.earnings),
                            "soc_start": readable.soc_percent(d.soc_start),
                            "soc_end": readable.soc_percent(d.soc_end)} for d in r.drivers],
                ["key", "id_token", "energy_kwh", "earnings", "soc_start", "soc_end"],
                empty="no EVs took part")
