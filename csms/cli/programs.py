"""``csms programs``: demand-response programs (event windows, baseline, compensation)."""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated

import asyncpg
import typer

from csms.cli.base import (
    DatabaseUrlOption,
    DataDirOption,
    GroupOption,
    HistoryWeeksOption,
    JsonOption,
    with_store,
)
from csms.cli.errors import CliError, ExitCode, not_found, shown, usage
from csms.cli.output import print_fields, print_json, print_table
from csms.cli.times import duration_option, timezone_option
from csms.grid.plugin_forecast import Nomination
from csms.grid.rates import (
    DSGS_2025_RATES,
    DSGS_MIN_AGGREGATION_KW,
    DSGS_RATE_SOURCE,
    month_rate,
)
from csms.grid.service import suggest_nomination
from csms.store.grid.events import (
    ProgramExists,
    get_program,
    list_programs,
    save_program,
    set_display_message,
)
from csms.store.grid.records import (
    ALLOCATORS,
    BASELINES,
    COMPENSATIONS,
    GridInputError,
    Program,
)

app = typer.Typer(help="Manage demand-response programs (grid event rules and pay).",
                  no_args_is_help=True)

_WINDOW = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")


def parse_window(text: str) -> tuple[time, time]:
    """``HH:MM-HH:MM`` as two times; ValueError for anything else."""
    m = _WINDOW.fullmatch(text.strip())
    if not m:
        raise ValueError(f"{shown(text)} is not HH:MM-HH:MM (e.g. 16:00-21:00)")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    try:
        start, end = time(h1, m1), time(h2, m2)
    except ValueError as exc:
        raise ValueError(f"{shown(text)}: {exc}") from None
    if end <= start:
        raise ValueError(f"{shown(text)}: the window must end after it starts")
    return start, end


def percent(value: float | None, option: str) -> float | None:
    """A percentage option as a fraction."""
    if value is None:
        return None
    if not 0 <= value <= 100:
        raise usage(f"{option}: must be a percentage from 0 to 100, got {value}")
    return value / 100.0


#: the option that sets each field of a Program, to name it in an error
_OPTIONS = {
    "baseline_percent": "--baseline-percent", "rate_per_kwh": "--rate-per-kwh",
    "driver_share": "--driver-share", "floor_soc": "--floor", "departure_soc": "--departure-soc",
    "control_interval_s": "--control-interval", "settle_s": "--settle",
    "event_meter_interval_s": "--meter-interval", "retry_s": "--retry",
    "reserve_fraction": "--reserve", "baseline": "--baseline", "compensation": "--compensation",
    "display_message": "--display-message", "name": "NAME", "priority": "--priority",
    "allocator": "--allocator", "wear_cost_per_kwh": "--wear-cost",
    "solve_budget_s": "--solve-budget",
}

DisplayMessageOption = Annotated[str | None, typer.Option(
    "--display-message", metavar="TEMPLATE",
    help="Shown during events on each taking-part driver's charger, with their earnings so "
         "far: {earned} (e.g. 1.25), {kwh} (net kWh given), {until} (the event's end, UTC); "
         "e.g. 'V2G event, you have earned ${earned}'.", show_default=False)]


def _grid_input_error(exc: GridInputError) -> CliError:
    """A program setting that cannot be used, as a usage error naming its option."""
    message = str(exc)
    field = message.split(" ", 1)[0].rstrip(":")
    if field not in _OPTIONS:
        return usage(message)
    problem = message.removeprefix(field).removeprefix(":").strip()
    return usage(f"{_OPTIONS[field]}: {problem}")


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Program name, e.g. CEC-DSGS.")],
    baseline: Annotated[str, typer.Option(
        help=f"Baseline method: {', '.join(BASELINES)}.")] = "zero",
    baseline_percent: Annotated[float, typer.Option(
        help="Prescriptive baseline, % of nameplate discharge kW.")] = 10.8,
    compensation: Annotated[str, typer.Option(
        help=f"{' or '.join(COMPENSATIONS)}: $ per exported kWh, or DSGS $/kW-month of "
             "demonstrated capacity.")
    ] = "per-kwh",
    rate_per_kwh: Annotated[float, typer.Option(help="$ per net exported kWh.")] = 0.0,
    driver_share: Annotated[float, typer.Option(help="Drivers' share of the pay, %.")] = 80.0,
    floor: Annotated[float, typer.Option(help="Default SoC floor, %.")] = 20.0,
    departure_soc: Annotated[float | None, typer.Option(
        help="Default SoC wanted at departure, % (when neither EV nor driver says).")] = None,
    control_interval: Annotated[str, typer.Option(
        help="Closed-loop period, e.g. 30s, 1m.")] = "30s",
    settle: Annotated[str, typer.Option(
        help="Time a charger gets to reach a new setpoint (latency + ramp).")] = "20s",
    meter_interval: Annotated[str, typer.Option(
        help="Meter-value interval stations are set to during events.")] = "5s",
    retry: Annotated[str, typer.Option(
        help="Time an EV set aside during an event waits before it is tried again (twice as "
             "long after each further failure).")] = "5m",
    reserve: Annotated[float, typer.Option(
        help="Reserve kept back from the forecast, % (at least one EV's worth).")] = 5.0,
    window: Annotated[str | None, typer.Option(
        help="Local time window for events, HH:MM-HH:MM (e.g. 16:00-21:00).")] = None,
    timezone: Annotated[str, typer.Option(help="Time zone of --window.")] = "UTC",
    max_duration: Annotated[str | None, typer.Option(help="Longest event, e.g. 4h.")] = None,
    display_message: DisplayMessageOption = None,
    priority: Annotated[int, typer.Option(
        help="When events of several programs overlap, the higher priority is served first "
             "(then the higher value).")] = 0,
    allocator: Annotated[str, typer.Option(
        help=f"{' or '.join(ALLOCATORS)}: the LP over the event (HiGHS, with the heuristic "
             "as fallback), or the equal-headroom heuristic alone.")] = "optimised",
    wear_cost: Annotated[float, typer.Option(
        help="Battery wear the optimiser weighs, $ per kWh cycled.")] = 0.05,
    solve_budget: Annotated[str, typer.Option(
        help="The optimiser's time budget per solve, e.g. 1s, 0.5s.")] = "1s",
    replace: Annotated[bool, typer.Option(help="Replace a program of that name.")] = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Add a program (DSGS example: --compensation dsgs --baseline prescriptive --window
    16:00-21:00 --timezone America/Los_Angeles)."""
    try:
        start, end = parse_window(window) if window is not None else (None, None)
    except ValueError as exc:
        raise usage(f"--window: {exc}") from None
    durations = {option: duration_option(option, text).total_seconds()
                 for option, text in (("--control-interval", control_interval),
                                      ("--settle", settle), ("--meter-interval", meter_interval),
                                      ("--retry", retry), ("--solve-budget", solve_budget),
                                      ("--max-duration", max_duration)) if text is not None}
    if durations.get("--max-duration", 1) < 1:
        raise usage("--max-duration: must be at least 1s")
    timezone_option("--timezone", timezone)
    try:
        program = Program(
            name=name, baseline=baseline, baseline_percent=baseline_percent,
            compensation=compensation, rate_per_kwh=rate_per_kwh,
            driver_share=percent(driver_share, "--driver-share") or 0.0,
            floor_soc=percent(floor, "--floor") or 0.0,
            departure_soc=percent(departure_soc, "--departure-soc"),
            control_interval_s=int(durations["--control-interval"]),
            settle_s=durations["--settle"],
            event_meter_interval_s=int(durations["--meter-interval"]),
            retry_s=durations["--retry"],
            reserve_fraction=percent(reserve, "--reserve") or 0.0, window_start=start,
            window_end=end, timezone=timezone,
            max_duration_s=int(durations["--max-duration"]) if max_duration else None,
            display_message=display_message, priority=priority, allocator=allocator,
            wear_cost_per_kwh=wear_cost, solve_budget_s=durations["--solve-budget"])
    except GridInputError as exc:
        raise _grid_input_error(exc) from None

    async def go(db: asyncpg.Pool) -> None:
        try:
            await save_program(db, program, replace=replace)
        except ProgramExists as exc:
            raise CliError(f"{exc} (use --replace)", ExitCode.CONFLICT) from None

    with_store(database_url, data_dir, go)
    typer.echo(f"program {name} saved")


@app.command("update")
def update(
    name: Annotated[str, typer.Argument(help="Program name.")],
    display_message: DisplayMessageOption = None,
    no_display_message: Annotated[bool, typer.Option(
        "--no-display-message", help="Show drivers no message during events.")] = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Change a program's driver display message (its other settings: add --replace)."""
    if (display_message is None) == (not no_display_message):
        raise usage("--display-message: give --display-message TEMPLATE or "
                    "--no-display-message")

    async def go(db: asyncpg.Pool) -> bool:
        try:
            return await set_display_message(db, name, display_message)
        except GridInputError as exc:
            raise _grid_input_error(exc) from None

    if not with_store(database_url, data_dir, go):
        raise not_found(f"no program {shown(name)}")
    typer.echo(f"program {name}: " + ("no display message" if display_message is None
                                      else f"display message {display_message}"))


@app.command("list")
def list_(json_out: JsonOption = False, database_url: DatabaseUrlOption = None,
          data_dir: DataDirOption = None) -> None:
    """List the programs."""
    programs = with_store(database_url, data_dir, list_programs)
    if json_out:
        print_json(programs)
        return
    print_table([vars(p) for p in programs],
                ["name", "compensation", "baseline", "driver_share", "floor_soc",
                 "control_interval_s", "window_start", "window_end", "timezone"],
                empty="no programs")


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="Program name.")],
         json_out: JsonOption = False, database_url: DatabaseUrlOption = None,
         data_dir: DataDirOption = None) -> None:
    """Show a program; DSGS programs also show the $/kW-month rates in use."""
    program = with_store(database_url, data_dir, lambda db: get_program(db, name))
    if program is None:
        raise not_found(f"no program {shown(name)}")
    data = vars(program) | ({"dsgs_rates": {**DSGS_2025_RATES, **program.monthly_rates},
                             "dsgs_rate_source": DSGS_RATE_SOURCE}
                            if program.compensation == "dsgs" else {})
    if json_out:
        print_json(data)
    else:
        print_fields(data)


@app.command("nominate")
def nominate(
    name: Annotated[str, typer.Argument(help="Program name.")],
    month: Annotated[str, typer.Option("--month", metavar="YYYY-MM",
                                       help="The month to nominate for.")],
    group: GroupOption = None,
    weeks: HistoryWeeksOption = 8,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Suggest a DSGS monthly nomination: the mean, over every candidate event block of the
    month (each day, 2-hour blocks in the program's window), of the kW the fleet holds with
    90 % probability, from the plug-in forecast."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month.strip()):
        raise usage(f"--month: {shown(month)} is not a month YYYY-MM")

    async def go(db: asyncpg.Pool) -> tuple[Program, Nomination]:
        program = await get_program(db, name)
        if program is None:
            raise not_found(f"no program {shown(name)}")
        try:
            return program, await suggest_nomination(db, program, month.strip(), weeks=weeks,
                                                     group=group)
        except (GridInputError, ValueError) as exc:
            raise usage(str(exc)) from None

    program, found = with_store(database_url, data_dir, go)
    key = month.strip()
    rate = month_rate(key, program.monthly_rates)
    out = {"program": name, "month": key, "suggested_kw": found.suggested_kw,
           "worst_block_p90_kw": round(found.worst_kw, 1),
           "best_block_p90_kw": round(found.best_kw, 1), "blocks": len(found.blocks),
           "weeks_of_history": weeks}
    if rate is not None:
        out["dsgs_rate_per_kw_month"] = rate
    if json_out:
        print_json(out)
        return
    print_fields(out)
    if found.suggested_kw < DSGS_MIN_AGGREGATION_KW:
        typer.echo(f"note: DSGS aggregations start at {DSGS_MIN_AGGREGATION_KW:.0f} kW",
                   err=True)
