"""``csms fleet``: what the plugged-in fleet can give (capacity forecast) and station groups."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo

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
from csms.cli.errors import not_found, shown, usage
from csms.cli.output import print_fields, print_json, print_table
from csms.cli.times import time_option
from csms.grid.forecast import FleetCapacity
from csms.grid.plugin_forecast import Outlook
from csms.grid.service import forecast, plugin_outlook, program_or_default
from csms.store.grid.events import add_to_group, list_groups
from csms.store.grid.records import GridInputError

app = typer.Typer(help="Fleet capacity forecast and station groups.", no_args_is_help=True)


@app.command("capacity")
def capacity(
    start: Annotated[str, typer.Option("--from", metavar="T", help="Window start (now, +1h,"
                                                                   " ISO 8601).")],
    until: Annotated[str, typer.Option("--until", metavar="T", help="Window end.")],
    program: Annotated[str | None, typer.Option(help="Program whose rules apply.")] = None,
    group: GroupOption = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """How many kW the EVs plugged in now can hold over the window, per EV and in total,
    and the firm figure to nominate (total less a reserve)."""
    begin = time_option("--from", start)
    end = time_option("--until", until)
    if end <= begin:
        raise usage("--until: must be after --from")

    async def go(db: asyncpg.Pool) -> FleetCapacity:
        try:
            chosen = await program_or_default(db, program)
            return await forecast(db, chosen, begin, end, group)
        except GridInputError as exc:
            raise usage(str(exc)) from None
        except LookupError as exc:
            raise not_found(str(exc)) from None

    cap = with_store(database_url, data_dir, go)
    rows: list[dict[str, Any]] = [
        {"ev": c.key, "soc": round(c.ev.soc * 100, 1), "keep_soc": round(c.keep_soc * 100, 1),
         "departure": c.ev.departure, "kw": round(c.kw, 2), "kwh": round(c.energy_kwh, 2),
         "note": c.reason} for c in cap.capabilities]
    totals = {"from": begin, "until": end, "evs": len(rows), "eligible": cap.eligible,
              "capacity_kw": round(cap.total_kw, 1), "reserve_kw": round(cap.reserve_kw, 1),
              "firm_kw": round(cap.firm_kw, 1), "energy_kwh": round(cap.energy_kwh, 1),
              "committed_kw": round(cap.committed_kw, 1)}
    if json_out:
        print_json(totals | {"by_ev": rows})
        return
    print_table(rows, ["ev", "soc", "keep_soc", "departure", "kw", "kwh", "note"],
                empty="no EV is plugged in at a connected station")
    typer.echo("")
    print_fields(totals)


@app.command("group-add")
def group_add(
    group: Annotated[str, typer.Argument(help="Group name.")],
    stations: Annotated[list[str], typer.Argument(metavar="STATION...", help="Station ids.")],
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Put stations in a group (events can be limited to a group with --group)."""
    if not 0 < len(group) <= 64:
        raise usage("GROUP: must be 1 to 64 characters")
    unknown = with_store(database_url, data_dir, lambda db: add_to_group(db, group, stations))
    if unknown:
        raise not_found(f"unknown station(s): {', '.join(unknown)} (the others were added)")
    typer.echo(f"{len(stations)} station(s) in group {group}")


@app.command("groups")
def groups(json_out: JsonOption = False, database_url: DatabaseUrlOption = None,
           data_dir: DataDirOption = None) -> None:
    """List the station groups."""
    found = with_store(database_url, data_dir, list_groups)
    if json_out:
        print_json(found)
        return
    print_table([{"group": g, "stations": len(s), "members": " ".join(s)}
                 for g, s in found.items()], ["group", "stations", "members"],
                empty="no groups")


def _clock(option: str, text: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise usage(f"{option}: {shown(text)} is not a time of day HH:MM (e.g. 16:00)") \
            from None


@app.command("forecast")
def forecast_window(
    day: Annotated[str, typer.Option("--date", metavar="D",
                                     help="Day of the window, YYYY-MM-DD (program's zone).")],
    start: Annotated[str, typer.Option("--from", metavar="HH:MM", help="Window start.")],
    until: Annotated[str, typer.Option("--until", metavar="HH:MM", help="Window end.")],
    program: Annotated[str | None, typer.Option(
        help="Program whose floor, time zone and defaults apply.")] = None,
    group: GroupOption = None,
    weeks: HistoryWeeksOption = 8,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """What the fleet can hold over a future window, from the stored sessions: each EVSE's
    chance of being plugged in and its SoC by hour of week; prints the expected kW and the
    firm kW it holds with 90 % probability (P90)."""
    try:
        date = datetime.strptime(day.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise usage(f"--date: {shown(day)} is not a date YYYY-MM-DD") from None
    begin_t, end_t = _clock("--from", start), _clock("--until", until)
    if end_t <= begin_t:
        raise usage("--until: must be after --from")

    async def go(db: asyncpg.Pool) -> Outlook:
        try:
            chosen = await program_or_default(db, program)
            zone = ZoneInfo(chosen.timezone)
            begin = datetime.combine(date, begin_t, zone)
            end = datetime.combine(date, end_t, zone)
            return await plugin_outlook(db, chosen, begin, end, weeks=weeks, group=group)
        except GridInputError as exc:
            raise usage(str(exc)) from None
        except LookupError as exc:
            raise not_found(str(exc)) from None

    found = with_store(database_url, data_dir, go)
    rows = [{"evse": e.key, "chance": round(e.chance, 3), "soc": round(e.soc * 100, 1),
             "kw_if_there": round(e.kw_if_there, 2), "expected_kw": round(e.expected_kw, 2)}
            for e in found.evses]
    totals = {"from": found.start, "until": found.end, "evses": len(rows),
              "expected_kw": round(found.expected_kw, 1),
              "firm_p90_kw": round(found.firm_kw, 1), "weeks_of_history": weeks}
    if json_out:
        print_json(totals | {"by_evse": rows})
        return
    print_table(rows, ["evse", "chance", "soc", "kw_if_there", "expected_kw"],
                empty="no sessions in the history")
    typer.echo("")
    print_fields(totals)
