"""``csms sites``: grid connections shared by stations and a building, their import and export
limits, and the building's load."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer

from csms.cli.base import DatabaseUrlOption, DataDirOption, JsonOption, with_store
from csms.cli.errors import CliError, ExitCode, not_found, shown, usage
from csms.cli.output import print_fields, print_json, print_table
from csms.grid.site_control import site_status
from csms.grid.site_load import parse_load_csv
from csms.store.base import utcnow
from csms.store.grid import sites as store
from csms.store.grid.records import GridInputError

app = typer.Typer(help="Sites: import and export limits of a grid connection, its stations and "
                       "the building's load.", no_args_is_help=True)
meter_app = typer.Typer(help="The building's load at a site.", no_args_is_help=True)
app.add_typer(meter_app, name="meter")

SiteName = Annotated[str, typer.Argument(metavar="NAME", help="Site name.")]


def _kw(value: float | None, option: str) -> float | None:
    if value is not None and not (math.isfinite(value) and 0 <= value < 1e7):
        raise usage(f"{option}: must be a number of kW from 0, got {value}")
    return value


def _name(name: str) -> str:
    if not 0 < len(name) <= 64:
        raise usage("NAME: must be 1 to 64 characters")
    return name


async def _known_station(db: asyncpg.Pool, station_id: str | None) -> None:
    if station_id is not None and await db.fetchval(
            "SELECT 1 FROM stations WHERE id = $1", station_id) is None:
        raise not_found(f"--meter: no station {shown(station_id)}")


@app.command("add")
def add(
    name: SiteName,
    import_kw: Annotated[float, typer.Option("--import-kw", metavar="KW",
                                             help="Import limit of the connection, kW.")],
    export_kw: Annotated[float, typer.Option("--export-kw", metavar="KW",
                                             help="Export limit, kW (0: non-export).")],
    meter: Annotated[str | None, typer.Option(
        "--meter", metavar="STATION",
        help="Station whose EVSE 0 main meter measures the grid connection.")] = None,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Add a site with the limits of its grid connection."""
    site = store.Site(_name(name), _kw(import_kw, "--import-kw") or 0.0,
                      _kw(export_kw, "--export-kw") or 0.0, meter)

    async def go(db: asyncpg.Pool) -> None:
        await _known_station(db, meter)
        try:
            await store.add_site(db, site)
        except store.SiteExists as exc:
            raise CliError(f"{exc} (change it with csms sites set)", ExitCode.CONFLICT) \
                from None

    with_store(database_url, data_dir, go)
    kind = "non-export" if site.non_export else f"export up to {site.export_kw:g} kW"
    typer.echo(f"site {name}: import up to {site.import_kw:g} kW, {kind}")


@app.command("set")
def set_(
    name: SiteName,
    import_kw: Annotated[float | None, typer.Option("--import-kw", metavar="KW",
                                                    help="Import limit, kW.")] = None,
    export_kw: Annotated[float | None, typer.Option("--export-kw", metavar="KW",
                                                    help="Export limit, kW (0: non-export).")]
    = None,
    meter: Annotated[str | None, typer.Option("--meter", metavar="STATION",
                                              help="Main-meter station.")] = None,
    no_meter: Annotated[bool, typer.Option("--no-meter", help="The site has no main meter.")]
    = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Change a site's limits or main meter (applied at the next control step)."""
    if meter is not None and no_meter:
        raise usage("give at most one of --meter and --no-meter")

    async def go(db: asyncpg.Pool) -> None:
        await _known_station(db, meter)
        if not await store.change_site(db, name, import_kw=_kw(import_kw, "--import-kw"),
                                       export_kw=_kw(export_kw, "--export-kw"),
                                       meter_station_id=meter, clear_meter=no_meter):
            raise not_found(f"no site {shown(name)}")

    with_store(database_url, data_dir, go)
    typer.echo(f"site {name} changed")


@app.command("assign")
def assign(
    name: SiteName,
    stations: Annotated[list[str], typer.Argument(metavar="STATION...", help="Station ids.")],
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Put stations at a site (a station is at one site at most: it moves)."""

    async def go(db: asyncpg.Pool) -> list[str]:
        try:
            return await store.assign(db, name, stations)
        except LookupError:
            raise not_found(f"no site {shown(name)}") from None

    unknown = with_store(database_url, data_dir, go)
    if unknown:
        raise not_found(f"unknown station(s): {', '.join(unknown)} (the others were assigned)")
    typer.echo(f"{len(stations)} station(s) at site {name}")


def _row(site: store.Site) -> dict[str, Any]:
    return {"site": site.name, "import_kw": site.import_kw, "export_kw": site.export_kw,
            "non_export": site.non_export, "meter": site.meter_station_id,
            "stations": len(site.stations)}


@app.command("list")
def list_(json_out: JsonOption = False, database_url: DatabaseUrlOption = None,
          data_dir: DataDirOption = None) -> None:
    """The sites and their limits."""
    found = with_store(database_url, data_dir, store.list_sites)
    rows = [_row(s) for s in found]
    if json_out:
        print_json(rows)
        return
    print_table(rows, ["site", "import_kw", "export_kw", "non_export", "meter", "stations"],
                empty="no sites")


@app.command("show")
def show(name: SiteName, json_out: JsonOption = False, database_url: DatabaseUrlOption = None,
         data_dir: DataDirOption = None) -> None:
    """A site: limits, stations, the building's load measured now, and the site controller's
    latest plan: the headroom under the import limit and each EVSE's allocation."""

    async def go(db: asyncpg.Pool) -> tuple[store.Site, store.BuildingLoad, dict[str, Any]]:
        site = await store.get_site(db, name)
        if site is None:
            raise not_found(f"no site {shown(name)}")
        return site, await store.building_load(db, site, utcnow()), await site_status(db, name)

    site, load, plan = with_store(database_url, data_dir, go)
    out = _row(site) | {"building_kw": round(load.kw, 2), "building_source": load.source,
                        "building_at": load.at, "connection_kw": None if
                        load.connection_kw is None else round(load.connection_kw, 2),
                        "export_room_kw": round(site.export_kw + load.kw, 2),
                        "members": list(site.stations)} | plan
    if json_out:
        print_json(out)
        return
    allocations = out.pop("allocations")
    print_fields(out | {"members": " ".join(site.stations) or "-"})
    typer.echo("")
    print_table(allocations, ["station", "evse", "kind", "share_kw", "want_kw", "minimum_kw",
                              "measured_kw", "cap_status"],
                empty="no allocation yet (the site controller runs on the node leading the "
                      "grid dispatcher)")


@meter_app.command("import")
def meter_import(
    name: SiteName,
    file: Annotated[Path, typer.Argument(metavar="FILE.csv",
                                         help="CSV: time,building_kw (or building_w).")],
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Import the building's load (without the chargers) from the site's meter data; each
    reading holds until the next one, at most an hour."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise usage(f"FILE: cannot read {file}: {getattr(exc, 'strerror', None) or exc}") \
            from None
    try:
        readings = parse_load_csv(text)
    except GridInputError as exc:
        raise usage(f"{file}: {exc}") from None

    async def go(db: asyncpg.Pool) -> int:
        try:
            return await store.import_load(db, name, readings)
        except LookupError:
            raise not_found(f"no site {shown(name)}") from None

    count = with_store(database_url, data_dir, go)
    typer.echo(f"{count} reading(s) for site {name}, {readings[0][0].isoformat()} to "
               f"{readings[-1][0].isoformat()}")
