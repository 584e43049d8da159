"""``csms stations``: register charging stations and see what they report."""

from __future__ import annotations

import asyncio
import csv
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, TextIO

import asyncpg
import typer

from csms.cli.base import (
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    open_store,
    resolve_url,
    run,
    with_store,
)
from csms.cli.calls import DEFAULT_TIMEOUT, TimeoutOption
from csms.cli.errors import CliError, ExitCode, not_found, usage
from csms.cli.output import format_cell, print_json, print_table
from csms.store import rotation
from csms.store.commands import (
    CommandResult,
    station_online,
    submit_command,
    wait_for_command,
)
from csms.store.passwords import (
    CHOSEN_LOG2_N,
    GENERATED_LOG2_N,
    generate_password,
    hash_password,
)
from csms.store.records import StationExists, StationNotFound, jsonable
from csms.store.stations import (
    existing_station_ids,
    get_station,
    get_station_credentials,
    list_stations,
    register_station,
    remove_station,
)
from csms.store.stations import (
    set_password as store_set_password,
)

app = typer.Typer(help="Register charging stations and see their state.", no_args_is_help=True)

#: Part 4: the identity is at most 48 characters and never contains ':'.
MAX_IDENTITY = 48
#: Security profiles 1 and 2 use HTTP Basic auth with a password of 16 to 40 characters
#: (OCPPCommCtrlr/SecurityCtrlr BasicAuthPassword, A00.FR.205).
MIN_PASSWORD, MAX_PASSWORD = 16, 40

StationId = Annotated[str, typer.Argument(metavar="ID", help="The station's identity.")]
PasswordOption = Annotated[
    str | None,
    typer.Option(
        "--password", help=f"HTTP Basic password, {MIN_PASSWORD} to {MAX_PASSWORD} characters."
    ),
]


def check_identity(station_id: str) -> str:
    """Refuse an identity a station could never connect with (Part 4: max 48 chars, no ':')."""
    if not station_id or len(station_id) > MAX_IDENTITY:
        raise usage(
            f"ID: a station identity has 1 to {MAX_IDENTITY} characters, got {len(station_id)}"
        )
    if ":" in station_id:
        raise usage(f"ID: a station identity may not contain ':' ({station_id!r})")
    if not station_id.isprintable():
        raise usage(f"ID: a station identity must be printable ({station_id!r})")
    return station_id


def check_password(password: str) -> str:
    """Refuse a Basic auth password outside the 16 to 40 characters OCPP allows."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise usage(
            f"--password: must have {MIN_PASSWORD} to {MAX_PASSWORD} characters,"
            f" got {len(password)}"
        )
    return password


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
            raise CliError(f"station {station_id!r} already exists", ExitCode.CONFLICT) from None

    with_store(database_url, data_dir, go)
    typer.echo(f"station {station_id} added (security profile {security_profile})")
    if generate:
        typer.echo(f"password: {password}  (shown once; configure the station with it)")


def password_choice(password: str | None, generate: bool,
                    flag: str) -> tuple[str | None, int]:
    """The password to store and its hash cost: the one given (checked), or a generated one
    when ``flag`` was given; not both."""
    if generate:
        if password is not None:
            raise usage(f"{flag}: give either --password or {flag}, not both")
        return generate_password(), GENERATED_LOG2_N
    if password is not None:
        check_password(password)
    return password, CHOSEN_LOG2_N


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
    """Show one station: connection, boot data, EVSEs and connectors, device model, transactions."""
    station = with_store(database_url, data_dir, lambda db: get_station(db, station_id))
    if station is None:
        raise not_found(f"unknown station {station_id!r}")
    data = jsonable(station)
    if json_out:
        print_json(data)
        return
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
        raise not_found(f"unknown station {station_id!r}")
    typer.echo(f"station {station_id} removed")


@app.command("set-password")
def set_password(
    station_id: StationId,
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            help=f"New HTTP Basic password, {MIN_PASSWORD} to {MAX_PASSWORD} characters.",
        ),
    ] = None,
    generate: Annotated[
        bool,
        typer.Option("--generate",
                     help="Let the CSMS make a random password instead of --password (with "
                     "--offline it is printed once, to configure the station with)."),
    ] = False,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="The station is not connected: change only the stored password. The station "
            "keeps its old one until it is given the new one by other means.",
        ),
    ] = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Change a station's Basic auth password, through the station itself (A01).

    A connected station is sent SetVariables SecurityCtrlr.BasicAuthPassword. The stored
    password changes only when the station answers Accepted (or logs in with the new one);
    until then both passwords are accepted. A station that is not connected is refused unless
    --offline is given.
    """
    new_password, log2_n = password_choice(password, generate, "--generate")
    if new_password is None:
        raise usage("--password: required (or --generate)")
    url = resolve_url(database_url, data_dir)
    typer.echo(run(_rotate(url, station_id, new_password, offline, timeout, log2_n)))
    if generate and offline:
        typer.echo(f"password: {new_password}  (shown once; configure the station with it)")


async def _rotate(url: str, station_id: str, password: str, offline: bool, timeout: float,
                  log2_n: int) -> str:
    """Change the password as ``set-password`` promises; returns the line to print."""
    async with open_store(url) as db:
        if await get_station_credentials(db, station_id) is None:
            raise not_found(f"unknown station {station_id!r}")
        online = await station_online(db, station_id)
        if offline:
            if online:
                raise usage(f"--offline: station {station_id!r} is connected; leave out "
                            "--offline to give it the new password through its connection")
            try:
                await store_set_password(db, station_id, password, log2_n=log2_n)
            except StationNotFound:
                raise not_found(f"unknown station {station_id!r}") from None
            return (f"stored password of station {station_id} changed; the station must be "
                    "given the new password by other means before it can log in again")
        if not online:
            raise CliError(
                f"station {station_id!r} is not connected, so it cannot be given the new "
                "password; use --offline to change only the stored password",
                ExitCode.OFFLINE,
            )
        hashed = await asyncio.get_running_loop().run_in_executor(
            None, lambda: hash_password(password, log2_n=log2_n))
        await rotation.begin_password_change(db, station_id, hashed)
        command_id = await submit_command(db, station_id, "SetVariables", {"setVariableData": [{
            "component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
            "attributeValue": password}]})
    try:
        result = await wait_for_command(url, command_id, timeout)
    finally:
        async with open_store(url) as db:
            await rotation.redact_command_secrets(db, command_id)
    async with open_store(url) as db:
        return await _conclude(db, station_id, hashed, result)


async def _conclude(db: asyncpg.Pool, station_id: str, hashed: str, result: CommandResult) -> str:
    status = None
    if result.status == "answered":
        results = (result.response or {}).get("setVariableResult") or [{}]
        status = results[0].get("attributeStatus")
    if status == "Accepted":
        # TC_A_09: the station took the new password; the old one stops working now.
        await rotation.accept_password_change(db, station_id, hashed)
        return f"password of station {station_id} changed (the station accepted it)"
    if status == "RebootRequired":
        return (f"station {station_id} takes the new password at its next reboot; until it "
                "logs in with it, both passwords are accepted")
    if result.status == "timeout":
        raise CliError(
            f"station {station_id!r} did not answer within the timeout; until it logs in with "
            "the new password (or set-password runs again), both passwords are accepted",
            ExitCode.TIMEOUT,
        )
    # TC_A_10: refused, or never delivered: the old password stays the only one.
    await rotation.cancel_password_change(db, station_id, hashed)
    if status is not None:
        reason = f"answered {status}"
        code = ExitCode.CALL_ERROR
    elif result.status == "error":
        reason = f"answered {result.error_code}: {result.error_description or ''}".rstrip(": ")
        code = ExitCode.CALL_ERROR
    else:
        reason = f"could not be reached ({result.status})"
        code = ExitCode.OFFLINE
    raise CliError(f"station {station_id!r} {reason}; its password is unchanged", code)


@app.command("import")
def import_(
    id_prefix: Annotated[
        str, typer.Option("--id-prefix", help="Identities are this prefix + 1..COUNT.")
    ],
    count: Annotated[int, typer.Option("--count", min=1, max=100_000, help="How many.")],
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
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Register a whole fleet in one step (the ids and password `csms-sim run` uses).

    Stations that exist already are left as they are and counted as skipped.
    """
    if (password is None) == (generate_to is None):
        raise usage("--password: give either --password or --generate-passwords FILE")
    if password is not None:
        check_password(password)
    if generate_to is not None and generate_to.exists():
        raise usage(f"--generate-passwords: {generate_to} exists; it is never overwritten")
    ids = [check_identity(f"{id_prefix}{n}") for n in range(first, first + count)]
    generated: dict[str, str] = {}

    def hashed_for(station_id: str) -> str:
        if password is not None:
            return hash_password(password, log2_n=CHOSEN_LOG2_N)
        return hash_password(generated[station_id], log2_n=GENERATED_LOG2_N)

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
                await register_station(db, station_id, None, 1, password_hash=hashed)
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
