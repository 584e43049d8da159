"""``csms reservations``: reserve an EVSE for a driver, cancel, list (H01-H04). Thin over
:mod:`csms.operations.reservations`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import asyncpg
import typer

from csms.cli.base import (
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    StationId,
    with_store,
    with_store_url,
)
from csms.cli.calls import DEFAULT_TIMEOUT, TimeoutOption
from csms.cli.errors import not_found, shown, usage
from csms.cli.locallist import outcome_error
from csms.cli.operations import unknown_station
from csms.cli.output import format_cell, print_fields, print_json, print_table
from csms.cli.times import duration_option, time_option
from csms.cli.tokens import check_token, check_type
from csms.operations import Operations, Status
from csms.operations.reservations import (
    ReservationRequest,
    ReservationResult,
    cancel_reservation,
    create_reservation,
)
from csms.store import reservations, stations
from csms.store.reservations import Reservation

app = typer.Typer(help="Reserve EVSEs for drivers, cancel and list reservations.",
                  no_args_is_help=True)

MAX_INT = 2**31 - 1
DEFAULT_HOLD = "30m"

ReservationId = Annotated[int, typer.Argument(
    metavar="RESERVATION_ID", min=1, max=MAX_INT, help="The reservation's id.")]
COLUMNS = ["id", "station_id", "evse_id", "connector_type", "id_token", "group_id_token",
           "status", "expires_at", "transaction_id"]


def _where(reservation: Reservation) -> str:
    if reservation.evse_id is not None:
        return f"EVSE {reservation.evse_id}"
    if reservation.connector_type is not None:
        return f"an EVSE with a {reservation.connector_type} connector"
    return "any EVSE"


#: The option behind each ReserveNow field, to name it when a station's version refuses one.
_OPTIONS = {"idToken.idToken": "--token", "idToken.type": "--token-type", "evseId": "--evse",
            "connectorType": "--connector-type", "groupIdToken": "--group",
            "expiryDateTime": "--expires-at"}


def _finish(result: ReservationResult, action: str, json_out: bool,
            station_id: str | None = None) -> Reservation:
    """Print the reservation (JSON: whatever the outcome); fail unless the station accepted.
    ``station_id``: the station asked, when the request names one."""
    reservation = result.reservation
    if json_out and reservation is not None:
        print_json(reservation)
    if result.outcome.status is Status.UNKNOWN_STATION and station_id is not None:
        raise unknown_station(station_id)
    if not result.ok:
        subject = f"reservation {reservation.id}" if reservation else "reservation"
        raise outcome_error(result.outcome, action, subject, _OPTIONS)
    assert reservation is not None
    return reservation


@app.command("create")
def create(
    station_id: StationId,
    token: Annotated[str, typer.Option("--token", help="The ID token the EVSE is kept for.")],
    token_type: Annotated[str, typer.Option(
        "--token-type", help="Its type (ISO14443, ISO15693, eMAID, Central, ...).")] = "ISO14443",
    evse: Annotated[int | None, typer.Option(
        "--evse", min=1, max=MAX_INT, help="The EVSE to reserve (default: any EVSE).",
        show_default=False)] = None,
    connector_type: Annotated[str | None, typer.Option(
        "--connector-type", metavar="TYPE",
        help="Reserve an EVSE with a connector of this type (cCCS2, cG105 = CHAdeMO, ...).",
        show_default=False)] = None,
    expires_in: Annotated[str | None, typer.Option(
        "--expires-in", metavar="DURATION",
        help=f"How long to hold it, e.g. 30m, 2h (default {DEFAULT_HOLD}).",
        show_default=False)] = None,
    expires_at: Annotated[str | None, typer.Option(
        "--expires-at", metavar="TIME", help="When the hold ends (ISO 8601, 16:00, +45m).",
        show_default=False)] = None,
    group: Annotated[str | None, typer.Option(
        "--group", help="A group ID token: any token of that group may use the reservation.",
        show_default=False)] = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Reserve an EVSE of a station for a driver's token until a time (ReserveNow)."""
    check_token(token, "--token")
    check_type(token_type, "--token-type")
    if group is not None:
        check_token(group, "--group")
    if connector_type is not None and not (connector_type.strip()
                                           and connector_type.isprintable()):
        raise usage("--connector-type: must not be empty (e.g. cCCS2)")
    if expires_in is not None and expires_at is not None:
        raise usage("--expires-in / --expires-at: give at most one")
    if expires_at is not None:
        until = time_option("--expires-at", expires_at)
        if until <= datetime.now(UTC):
            raise usage(f"--expires-at: {expires_at} is not in the future")
    else:
        hold = duration_option("--expires-in",
                               DEFAULT_HOLD if expires_in is None else expires_in)
        if hold <= timedelta(0):
            raise usage("--expires-in: must be longer than zero")
        try:
            until = datetime.now(UTC) + hold
        except OverflowError:
            raise usage(f"--expires-in: {expires_in} is too long") from None
    request = ReservationRequest(station_id, token, token_type, until, evse, connector_type,
                                 group)

    async def go(pool: asyncpg.Pool, url: str) -> ReservationResult:
        async with Operations(pool, url) as ops:
            return await create_reservation(ops, pool, request, timeout=timeout)

    reservation = _finish(with_store_url(database_url, data_dir, go), "ReserveNow", json_out,
                          station_id)
    if not json_out:
        typer.echo(f"reservation {reservation.id} accepted: station {reservation.station_id}, "
                   f"{_where(reservation)}, token {reservation.id_token}, until "
                   f"{format_cell(reservation.expires_at)}")


@app.command("cancel")
def cancel(
    reservation_id: ReservationId,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Cancel a reservation (CancelReservation)."""

    async def go(pool: asyncpg.Pool, url: str) -> ReservationResult | None:
        reservation = await reservations.get(pool, reservation_id)
        if reservation is None:
            return None
        async with Operations(pool, url) as ops:
            return await cancel_reservation(ops, pool, reservation, timeout=timeout)

    result = with_store_url(database_url, data_dir, go)
    if result is None:
        raise not_found(f"unknown reservation {reservation_id}")
    reservation = _finish(result, "CancelReservation", json_out)
    if not json_out:
        typer.echo(f"reservation {reservation.id} cancelled at station {reservation.station_id}")


@app.command("list")
def list_(
    station: Annotated[str | None, typer.Option(
        "--station", metavar="ID", help="Only this station's.", show_default=False)] = None,
    active: Annotated[bool, typer.Option(
        "--active", help="Only those the station may still hold.")] = False,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List reservations, newest first, with how each one ended."""
    async def go(pool: asyncpg.Pool) -> list[Reservation]:
        if station is not None and await stations.get_station(pool, station) is None:
            raise not_found(f"--station: unknown station {shown(station)}")
        return await reservations.list_reservations(pool, station_id=station, active=active)

    rows = with_store(database_url, data_dir, go)
    if json_out:
        print_json(rows)
        return
    print_table([vars(r) for r in rows], COLUMNS, empty="no reservations")


@app.command("show")
def show(
    reservation_id: ReservationId,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show one reservation: what was asked, the station's answer, how it ended."""
    reservation = with_store(database_url, data_dir,
                             lambda pool: reservations.get(pool, reservation_id))
    if reservation is None:
        raise not_found(f"unknown reservation {reservation_id}")
    if json_out:
        print_json(reservation)
    else:
        print_fields(reservation)
