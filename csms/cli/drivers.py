"""``csms drivers``: each driver's floor, departure, need and opt-out, per token or station."""

from __future__ import annotations

from datetime import time
from typing import Annotated

import asyncpg
import typer

from csms.cli.base import DatabaseUrlOption, DataDirOption, JsonOption, with_store
from csms.cli.errors import not_found, shown, usage
from csms.cli.output import print_json, print_table
from csms.cli.programs import percent
from csms.cli.times import timezone_option
from csms.cli.tokens import check_token
from csms.store.grid.events import get_event
from csms.store.grid.fleet import (
    list_driver_settings,
    opt_out_of_event,
    save_driver_settings,
)
from csms.store.grid.records import DriverSettings, GridInputError
from csms.store.stations import existing_station_ids

app = typer.Typer(help="Drivers' wishes: SoC floor, departure, need, opting out.",
                  no_args_is_help=True)

TokenOption = Annotated[str | None, typer.Option(
    "--token", help="The driver's ID token (an eMAID identifies the vehicle's contract).")]
StationOption = Annotated[str | None, typer.Option(
    "--station", help="The station the vehicle is usually plugged into.")]


def _who(token: str | None, station: str | None) -> tuple[str, str]:
    if (token is None) == (station is None):
        raise usage("give exactly one of --token and --station")
    if token is not None:
        return "token", check_token(token, "--token")
    return "station", station or ""


async def _check_station(db: asyncpg.Pool, kind: str, key: str) -> None:
    """A driver's station must be registered (a token need not be: it may be authorized by
    other means)."""
    if kind == "station" and not await existing_station_ids(db, [key]):
        raise not_found(f"unknown station {shown(key)}")


@app.command("set")
def set_(
    token: TokenOption = None,
    station: StationOption = None,
    floor: Annotated[float | None, typer.Option(help="Lowest SoC to discharge to, %.")] = None,
    departure: Annotated[str | None, typer.Option(
        metavar="HH:MM", help="Usual departure time (local, see --timezone).")] = None,
    timezone: Annotated[str, typer.Option(help="Time zone of --departure.")] = "UTC",
    need_soc: Annotated[float | None, typer.Option(help="SoC wanted at departure, %.")] = None,
    need_kwh: Annotated[float | None, typer.Option(
        help="Energy wanted in the battery at departure, kWh.")] = None,
    capacity: Annotated[float | None, typer.Option(
        help="Usable battery capacity, kWh (when the EV does not report it).")] = None,
    opt_out: Annotated[bool, typer.Option(
        "--opt-out/--opt-in", help="Leave the vehicle out of every event.")] = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Save a driver's settings (they replace earlier ones). What the EV itself reports
    (NotifyEVChargingNeeds) takes precedence over the departure and need given here."""
    kind, key = _who(token, station)
    if need_soc is not None and need_kwh is not None:
        raise usage("give at most one of --need-soc and --need-kwh")
    leaving = None
    if departure is not None:
        try:
            leaving = time.fromisoformat(departure)
        except ValueError:
            raise usage(f"--departure: {shown(departure)} is not HH:MM") from None
    timezone_option("--timezone", timezone)
    try:
        settings = DriverSettings(kind, key, floor_soc=percent(floor, "--floor"),
                                  departure=leaving, timezone=timezone,
                                  need_soc=percent(need_soc, "--need-soc"), need_kwh=need_kwh,
                                  capacity_kwh=capacity, opt_out=opt_out)
    except GridInputError as exc:
        raise usage(str(exc)) from None

    async def go(db: asyncpg.Pool) -> None:
        await _check_station(db, kind, key)
        await save_driver_settings(db, settings)

    with_store(database_url, data_dir, go)
    typer.echo(f"settings saved for {kind} {key}")


@app.command("list")
def list_(json_out: JsonOption = False, database_url: DatabaseUrlOption = None,
          data_dir: DataDirOption = None) -> None:
    """List the drivers' settings."""
    found = with_store(database_url, data_dir, list_driver_settings)
    if json_out:
        print_json(found)
        return
    print_table([vars(s) for s in found], ["kind", "key", "floor_soc", "departure", "timezone",
                                            "need_soc", "need_kwh", "opt_out"],
                empty="no driver settings")


@app.command("opt-out")
def opt_out_event(
    event_id: Annotated[int, typer.Argument(metavar="EVENT", min=1, max=2**63 - 1,
                                            help="Event id.")],
    token: TokenOption = None,
    station: StationOption = None,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Leave a driver's vehicle out of one event (before it starts)."""
    kind, key = _who(token, station)

    async def go(db: asyncpg.Pool) -> bool:
        if await get_event(db, event_id) is None:
            return False
        await _check_station(db, kind, key)
        await opt_out_of_event(db, event_id, kind, key)
        return True

    if not with_store(database_url, data_dir, go):
        raise not_found(f"no event {event_id}")
    typer.echo(f"{kind} {key} opted out of event {event_id}")
