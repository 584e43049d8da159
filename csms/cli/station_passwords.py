"""Station passwords: the Basic auth password rules, and ``csms stations set-password``, which
changes a password through the station itself (A01) so the station and the CSMS stay in step."""

from __future__ import annotations

from typing import Annotated

import asyncpg
import typer

from csms.cli.base import DatabaseUrlOption, DataDirOption, StationId, with_store_url
from csms.cli.calls import DEFAULT_TIMEOUT, TimeoutOption
from csms.cli.errors import CliError, ExitCode, not_found, shown, usage
from csms.handshake import PASSWORD_LENGTH
from csms.operations import Operations
from csms.operations.passwords import change_station_password
from csms.store.base import StationNotFound
from csms.store.commands import station_online
from csms.store.passwords import (
    CHOSEN_LOG2_N,
    GENERATED_LOG2_N,
    generate_password,
)
from csms.store.stations import get_station_credentials
from csms.store.stations import set_password as store_set_password

MIN_PASSWORD, MAX_PASSWORD = PASSWORD_LENGTH[0], PASSWORD_LENGTH[-1]


def check_password(password: str) -> str:
    """Refuse a Basic auth password outside the 16 to 40 characters OCPP allows."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise usage(
            f"--password: must have {MIN_PASSWORD} to {MAX_PASSWORD} characters,"
            f" got {len(password)}"
        )
    return password


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
    typer.echo(with_store_url(database_url, data_dir, lambda db, url: _rotate(
        db, url, station_id, new_password, offline, timeout, log2_n)))
    if generate and offline:
        typer.echo(f"password: {new_password}  (shown once; configure the station with it)")


async def _rotate(db: asyncpg.Pool, url: str, station_id: str, password: str, offline: bool,
                  timeout: float, log2_n: int) -> str:
    """Change the password as ``set-password`` promises; returns the line to print."""
    if await get_station_credentials(db, station_id) is None:
        raise not_found(f"unknown station {shown(station_id)}")
    online = await station_online(db, station_id)
    if offline:
        if online:
            raise usage(f"--offline: station {station_id} is connected; leave out "
                        "--offline to give it the new password through its connection")
        try:
            await store_set_password(db, station_id, password, log2_n=log2_n)
        except StationNotFound:
            raise not_found(f"unknown station {shown(station_id)}") from None
        return (f"stored password of station {station_id} changed; the station must be "
                "given the new password by other means before it can log in again")
    if not online:
        raise CliError(
            f"station {station_id} is not connected, so it cannot be given the new "
            "password; use --offline to change only the stored password",
            ExitCode.OFFLINE,
        )
    try:
        async with Operations(db, url) as ops:
            change = await change_station_password(ops, station_id, password, log2_n=log2_n,
                                                   timeout=timeout)
    except StationNotFound:
        raise not_found(f"unknown station {shown(station_id)}") from None
    if change.outcome == "accepted":
        return f"password of station {station_id} changed (the station accepted it)"
    if change.outcome == "reboot_required":
        return (f"station {station_id} takes the new password at its next reboot; until it "
                "logs in with it, both passwords are accepted")
    if change.outcome == "timeout":
        raise CliError(
            f"station {station_id} did not answer within the timeout; until it logs in with "
            "the new password (or set-password runs again), both passwords are accepted",
            ExitCode.TIMEOUT,
        )
    if change.outcome == "disconnected":
        raise CliError(
            f"station {station_id} disconnected before it answered; until it logs in with "
            "the new password (or set-password runs again), both passwords are accepted",
            ExitCode.DISCONNECTED,
        )
    code = ExitCode.OFFLINE if change.outcome == "unreachable" else ExitCode.CALL_ERROR
    raise CliError(f"station {station_id} {change.detail}; its password is unchanged", code)
