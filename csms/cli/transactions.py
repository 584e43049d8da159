"""``csms transactions``: charging sessions with their energy, duration and meter values."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
import typer

from csms.cli.base import DatabaseUrlOption, DataDirOption, JsonOption, with_store
from csms.cli.errors import not_found, shown, usage
from csms.cli.output import print_fields, print_json, print_table
from csms.cli.times import time_option
from csms.store.base import StoreError, jsonable
from csms.store.stations import stations_with_transaction
from csms.store.transactions import get_transaction, list_transactions

app = typer.Typer(help="See charging sessions and what they delivered.", no_args_is_help=True)

StationFilter = Annotated[
    str | None, typer.Option("--station", metavar="ID", help="Only this station's transactions.")
]
SUMMARY_COLUMNS = [
    "station_id",
    "transaction_id",
    "evse_id",
    "id_token",
    "started_at",
    "ended_at",
    "charging_state",
    "energy_imported_wh",
    "energy_exported_wh",
    "duration_s",
]


@app.command("list")
def list_(
    station_id: StationFilter = None,
    active: Annotated[bool, typer.Option("--active", help="Only transactions not ended.")] = False,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="WHEN", help="Only transactions started at or after."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=1_000_000, help="At most this many.")
    ] = 100,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List transactions, newest first, with energy imported and exported (Wh)."""
    since_at = time_option("--since", since)

    async def go(db: asyncpg.Pool) -> list[Any]:
        return await list_transactions(
            db, station_id=station_id, active=True if active else None, since=since_at, limit=limit
        )

    transactions = with_store(database_url, data_dir, go)
    if json_out:
        print_json(transactions)
        return
    print_table([vars(t) for t in transactions], SUMMARY_COLUMNS, empty="no transactions")


@app.command("show")
def show(
    transaction_id: Annotated[str, typer.Argument(metavar="TX_ID", help="Transaction id.")],
    station_id: StationFilter = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show a transaction: energy, duration, its events in order and its meter values."""

    async def go(db: asyncpg.Pool) -> Any:
        try:
            return await get_transaction(db, transaction_id, station_id=station_id)
        except StoreError:  # the id is ambiguous
            stations = ", ".join(await stations_with_transaction(db, transaction_id))
            raise usage(f"--station: transaction {shown(transaction_id)} exists on several "
                        f"stations ({stations}); name one with --station ID") from None

    tx = with_store(database_url, data_dir, go)
    if tx is None:
        where = f" on station {shown(station_id)}" if station_id else ""
        raise not_found(f"unknown transaction {shown(transaction_id)}{where}")
    data = jsonable(tx)
    if json_out:
        print_json(data)
        return
    events = data.pop("events")
    samples = data.pop("meter_values")
    print_fields(data)
    typer.echo("\nevents:")
    print_table(
        events,
        ["seq_no", "event_type", "timestamp", "trigger_reason", "charging_state", "offline"],
        empty="(none)",
    )
    typer.echo("\nmeter values:")
    print_table(
        samples,
        ["timestamp", "evse_id", "measurand", "phase", "location", "context", "value", "unit"],
        empty="(none)",
    )
