"""``csms stations``: register charging stations and see what they report."""

from __future__ import annotations

import csv
import os
import string
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, TextIO

import asyncpg
import typer

from csms.cli.base import DatabaseUrlOption, DataDirOption, JsonOption, StationId, with_store
from csms.cli.boot import set_boot
from csms.cli.errors import CliError, ExitCode, not_found, shown, usage
from csms.cli.output import format_cell, print_json, print_table
from csms.cli.station_passwords import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    check_password,
    password_choice,
    set_password,
)
from csms.handshake import identity_problem
from csms.store.base import StationExists, jsonable
from csms.store.charging import ChargingNeeds, latest_charging_needs
from csms.store.passwords import (
    CHOSEN_LOG2_N,
    GENERATED_LOG2_N,
    generate_password,
    hash_password,
)
from csms.store.reports import list_security_events
from csms.store.stations import (
    StationDetail,
    existing_station_ids,
    get_station,
    list_stations,
    register_station,
    remove_station,
)

app = typer.Typer(help="Register charging stations and see their state.", no_args_is_help=True)

PasswordOption = Annotated[
    str | None,
    typer.Option(
        "--password", help=f"HTTP Basic password, {MIN_PASSWORD} to {MAX_PASSWORD} characters."
    ),
]


def check_identity(station_id: str) -> str:
    """Refuse an identity a station could never connect with (the server's own rule)."""
    problem = identity_problem(station_id)
    if problem is not None:
        raise usage(f"ID: {problem}")
    return station_id


@app.command("add")
def add(
    station_id: StationId,
    password: PasswordOption = None,
    security_profile: Annotated[
        int,
        typer.Option(
            "--security-profile",
            min=0,
            max=3,
            help="0: no auth (labs only), 1: Basic auth, 2: TLS + Basic auth, 3: mutual TLS.",
        ),
    ] = 1,
    generate: Annotated[
        bool,
        typer.Option("--generate-password",
                     help="Let the CSMS make a random password (printed once) instead of "
                     "--password."),
    ] = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Register a station so it may connect (profiles 1 and 2 need --password or
    --generate-password)."""
    check_identity(station_id)
    password, log2_n = password_choice(password, generate, "--generate-password")
    if password is None and security_profile in (1, 2):
        raise usage(f"--password: required for security profile {security_profile} "
                    "(or --generate-password)")
    hashed = None if password is None else hash_password(password, log2_n=log2_n)

    async def go(db: asyncpg.Pool) -> None:
        try:
            await register_station(db, station_id, None, security_profile,
                                   password_hash=hashed)
        except StationExists:
            raise CliError(f"station {station_id} already exists", ExitCode.CONFLICT) from None

    with_store(database_url, data_dir, go)
    typer.echo(f"station {station_id} added (security profile {security_profile})")
    if generate:
        typer.echo(f"password: {password}  (shown once; configure the station with it)")


@app.command("list")
def list_(
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List every registered station with its connection state."""
    stations = with_store(database_url, data_dir, list_stations)
    if json_out:
        print_json(stations)
        return
    rows = [jsonable(s) for s in stations]
    for row in rows:
        row["state"] = "online" if row["connected"] else "offline"
        row["ocpp"] = (row["subprotocol"] or "").removeprefix("ocpp")
    print_table(
        rows,
        ["id", "state", "ocpp", "vendor_name", "model", "firmware_version", "last_heartbeat_at"],
        empty="no stations",
    )


@app.command("show")
def show(
    station_id: StationId,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show one station: connection, boot data, EVSEs and connectors, device model, transactions,
    and what the EV on each EVSE last said it needs (NotifyEVChargingNeeds)."""

    async def go(db: asyncpg.Pool) -> tuple[StationDetail | None, list[ChargingNeeds]]:
        station = await get_station(db, station_id)
        return station, [] if station is None else await latest_charging_needs(db, station_id)

    station, needs = with_store(database_url, data_dir, go)
    if station is None:
        raise not_found(f"unknown station {shown(station_id)}")
    data = jsonable(station)
    data["charging_needs"] = jsonable(needs)
    if json_out:
        print_json(data)
        return
    needs_rows = [{"evse_id": n.evse_id, "transfer": n.requested_energy_transfer,
                   "departure_time": n.departure_time, "energy_wh": _energy_amount(n),
                   "received_at": n.received_at} for n in needs]
    del data["charging_needs"]
    connectors = data.pop("connectors")
    active = data.pop("active_transactions")
    data["state"] = "online" if data.pop("connected") else "offline"
    data["ocpp"] = (data.pop("subprotocol") or "").removeprefix("ocpp")
    ordered = {k: data.pop(k) for k in SHOW_ORDER if k in data}
    for key, value in {**ordered, **data}.items():
        typer.echo(f"{key}: {'-' if value is None or value == '' else format_cell(value)}")
    typer.echo("")
    print_table(
        connectors,
        ["evse_id", "connector_id", "status", "status_at"],
        empty="no connectors reported",
    )
    typer.echo("")
    typer.echo(
        "active transactions: " + (", ".join(format_cell(t) for t in active) if active else "none")
    )
    typer.echo("")
    print_table(needs_rows, ["evse_id", "transfer", "departure_time", "energy_wh", "received_at"],
                empty="no charging needs reported")


def _energy_amount(needs: ChargingNeeds) -> float | None:
    """The energy the EV asked for in Wh (energyAmount of its AC or DC parameters), if any."""
    for block in ("dcChargingParameters", "acChargingParameters"):
        amount = (needs.charging_needs.get(block) or {}).get("energyAmount")
        if amount is not None:
            return amount
    return None


#: The order of ``stations show``: connection first, then what the station reported.
SHOW_ORDER = (
    "id",
    "state",
    "ocpp",
    "remote_address",
    "node_id",
    "connected_at",
    "disconnected_at",
    "last_heartbeat_at",
    "vendor_name",
    "model",
    "serial_number",
    "firmware_version",
    "boot_status",
    "boot_reason",
    "last_boot_at",
    "registration_status",
    "security_profile",
    "device_model_components",
    "device_model_variables",
)


@app.command("remove")
def remove(
    station_id: StationId,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Delete a station and everything stored about it."""
    if not with_store(database_url, data_dir, lambda db: remove_station(db, station_id)):
        raise not_found(f"unknown station {shown(station_id)}")
    typer.echo(f"station {station_id} removed")


app.command("set-password")(set_password)
app.command("set-boot")(set_boot)


@app.command("security-events")
def security_events(
    station_id: StationId,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000,
                                       help="At most this many, the latest.")] = 100,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List the security events a station reported (SecurityEventNotification), newest first."""

    async def go(db: asyncpg.Pool) -> list[dict[str, Any]] | None:
        if await get_station(db, station_id) is None:
            return None
        return await list_security_events(db, station_id, limit)

    events = with_store(database_url, data_dir, go)
    if events is None:
        raise not_found(f"unknown station {shown(station_id)}")
    if json_out:
        print_json(events)
        return
    print_table(events, ["timestamp", "type", "tech_info", "received_at"],
                empty="no security events")


#: How to write a station's number in ``--id-format``.
_FORMAT_HINT = "write {} or e.g. {:05d} where the number goes"


def fleet_ids(id_prefix: str, id_format: str | None, first: int, count: int) -> list[str]:
    """The identities ``stations import`` registers: ``id_prefix`` followed by each number from
    ``first`` on, written by ``id_format`` (a ``str.format`` string; default the plain number).

    A usage error names the option at fault when the format is broken, does not use the
    number, gives an identity twice, or gives one no station could connect with.
    """
    option = "--id-format" if id_format is not None else "--id-prefix"
    fmt = "{}" if id_format is None else id_format
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(fmt) if f is not None]
    except ValueError:
        raise usage(f"--id-format: {fmt} is not a format string (braces come in pairs; "
                    "write {{ and }} for a literal brace)") from None
    if not fields:
        raise usage(f"--id-format: {fmt} does not use the station number ({_FORMAT_HINT})")
    try:
        ids = [f"{id_prefix}{fmt.format(n)}" for n in range(first, first + count)]
    except (IndexError, KeyError, AttributeError):
        raise usage(f"--id-format: {fmt} refers to a value other than the station number "
                    f"({_FORMAT_HINT})") from None
    except (ValueError, TypeError):
        raise usage(f"--id-format: {fmt} cannot format a whole number ({_FORMAT_HINT})"
                    ) from None
    seen: set[str] = set()
    for station_id in ids:
        if station_id in seen:
            raise usage(f"{option}: {fmt} gives the identity {station_id} more than once")
        seen.add(station_id)
        problem = identity_problem(station_id)
        if problem is not None:
            shown = f" (first: {station_id})" if station_id.isprintable() else ""
            raise usage(f"{option}: {problem}{shown}")
    return ids


@app.command("import")
def import_(
    count: Annotated[int, typer.Option("--count", min=1, max=100_000, help="How many.")],
    id_prefix: Annotated[
        str, typer.Option("--id-prefix", help="Identities are this prefix followed by the "
                          "number of each station, 1..COUNT (see --first, --id-format).")
    ] = "",
    password: Annotated[
        str | None,
        typer.Option("--password", help=f"HTTP Basic password for every station, {MIN_PASSWORD}"
                     f" to {MAX_PASSWORD} characters."),
    ] = None,
    generate_to: Annotated[
        Path | None,
        typer.Option("--generate-passwords", metavar="FILE",
                     help="Give every station a random password of its own instead of "
                     "--password, written to FILE as CSV (station_id,password; readable by "
                     "the owner only) for installing them."),
    ] = None,
    first: Annotated[int, typer.Option("--first", min=0, help="Number of the first.")] = 1,
    id_format: Annotated[
        str | None,
        typer.Option("--id-format", metavar="FMT",
                     help="How each station's number is written after --id-prefix: a Python "
                     "format string, e.g. 'CS-KEBA-OCPP2-{:05d}' gives CS-KEBA-OCPP2-00001, "
                     "CS-KEBA-OCPP2-00002, ... (default: the plain number).",
                     show_default=False),
    ] = None,
    security_profile: Annotated[
        int,
        typer.Option("--security-profile", min=1, max=3,
                     help="1: Basic auth, 2: TLS + Basic auth, 3: mutual TLS (a password is "
                     "then optional), as in 'stations add'."),
    ] = 1,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Register a whole fleet in one step (the ids and password `csms-sim run` uses).

    Stations that exist already are left as they are and counted as skipped.
    """
    if not id_prefix and id_format is None:
        raise usage("--id-prefix: required (or --id-format)")
    if password is not None and generate_to is not None:
        raise usage("--password: give either --password or --generate-passwords FILE, not both")
    if password is None and generate_to is None and security_profile in (1, 2):
        raise usage(f"--password: required for security profile {security_profile} "
                    "(or --generate-passwords FILE)")
    if password is not None:
        check_password(password)
    if generate_to is not None and generate_to.exists():
        raise usage(f"--generate-passwords: {generate_to} exists; it is never overwritten")
    ids = fleet_ids(id_prefix, id_format, first, count)
    generated: dict[str, str] = {}

    def hashed_for(station_id: str) -> str | None:
        if password is not None:
            return hash_password(password, log2_n=CHOSEN_LOG2_N)
        if station_id in generated:
            return hash_password(generated[station_id], log2_n=GENERATED_LOG2_N)
        return None  # security profile 3: the client certificate alone

    async def go(db: asyncpg.Pool, out: TextIO | None) -> tuple[int, int]:
        existing = await existing_station_ids(db, ids)
        todo = [i for i in ids if i not in existing]
        if out is not None:
            generated.update((i, generate_password()) for i in todo)
            # On disk before any station is stored with it: no password can be lost.
            writer = csv.writer(out)
            writer.writerow(["station_id", "password"])
            writer.writerows(generated.items())
            out.flush()
            os.fsync(out.fileno())
        # scrypt is slow on purpose; hash on every core, off the event loop.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            hashes = list(pool.map(hashed_for, todo))
        added = 0
        for station_id, hashed in zip(todo, hashes, strict=True):
            try:
                await register_station(db, station_id, None, security_profile,
                                       password_hash=hashed)
                added += 1
            except StationExists:  # registered meanwhile by someone else: theirs stays
                existing.add(station_id)
        return added, len(existing)

    if generate_to is None:
        added, skipped = with_store(database_url, data_dir, lambda db: go(db, None))
    else:
        try:
            fd = os.open(generate_to, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise usage(f"--generate-passwords: cannot create {generate_to}: "
                        f"{exc.strerror}") from None
        with os.fdopen(fd, "w", newline="") as out:
            added, skipped = with_store(database_url, data_dir, lambda db: go(db, out))
    typer.echo(f"{added} stations added, {skipped} skipped (already registered): "
               f"{ids[0]} .. {ids[-1]}")
    if generate_to is not None:
        typer.echo(f"their passwords: {generate_to}")
