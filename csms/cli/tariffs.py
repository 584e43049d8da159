"""``csms tariffs``: prices that give each transaction its cost, shown to the driver during
charging (CostUpdated, I02) and at the end (totalCost, I03)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import asyncpg
import typer

from csms.blocks.tariffs import total_cost
from csms.cli.base import DatabaseUrlOption, DataDirOption, JsonOption, StationId, with_store
from csms.cli.errors import not_found, shown, usage
from csms.cli.output import print_fields, print_json, print_table
from csms.store import tariffs
from csms.store.base import StationNotFound
from csms.store.grid.events import get_program
from csms.store.stations import get_station
from csms.store.tariffs import ProgramNotFound, Tariff

app = typer.Typer(help="Set the prices that give transactions their cost.",
                  no_args_is_help=True)

StationOption = Annotated[str | None, typer.Option(
    "--station", metavar="ID", show_default=False,
    help="The station's own tariff (default: the tariff of every station without one).")]
MAX_PRICE = Decimal(1_000_000)
#: Stations named one by one when their currency differs from a new tariff's.
MAX_NOTES = 5


def price(option: str, text: str | None) -> Decimal | None:
    """A price per kWh: a non-negative decimal number; a usage error naming ``option``."""
    if text is None:
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise usage(f"{option}: {shown(text)} is not a price (e.g. 0.30)") from None
    if not value.is_finite() or not 0 <= value <= MAX_PRICE:
        raise usage(f"{option}: must be from 0 to {MAX_PRICE}, got {shown(text)}")
    if value.as_tuple().exponent < -6:  # type: ignore[operator]
        raise usage(f"{option}: at most 6 decimals, got {shown(text)}")
    return value


def currency_code(text: str) -> str:
    """An ISO 4217 code (three letters, any case)."""
    code = text.strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise usage(f"--currency: {shown(text)} is not an ISO 4217 code (e.g. USD, EUR)")
    return code


@app.command("set")
def set_(
    energy_price: Annotated[str, typer.Option(
        "--energy-price", metavar="PRICE", help="Price of a kWh charged into the car.")],
    currency: Annotated[str, typer.Option(
        "--currency", metavar="CODE",
        help="ISO 4217 currency; the stations show it (TariffCostCtrlr.Currency).")],
    discharge_credit: Annotated[str | None, typer.Option(
        "--discharge-credit", metavar="PRICE", show_default=False,
        help="Credit for a kWh given back to the grid (the cost goes down, below zero if "
             "the car gave more than it took).")] = None,
    credit_program: Annotated[str | None, typer.Option(
        "--credit-program", metavar="PROGRAM", show_default=False,
        help="Credit exported kWh at this demand-response program's per-kWh rate times its "
             "drivers' share, instead of --discharge-credit.")] = None,
    station_id: StationOption = None,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Set the default tariff, or a station's own (--station).

    It applies from the next cost computed on, to ongoing transactions too.
    """
    if discharge_credit is not None and credit_program is not None:
        raise usage("--credit-program: give --discharge-credit or --credit-program, not both")
    tariff = Tariff(currency_code(currency), price("--energy-price", energy_price) or Decimal(0),
                    price("--discharge-credit", discharge_credit), credit_program, station_id)

    async def go(db: asyncpg.Pool) -> list[tuple[str, str]]:
        if credit_program is not None:
            program = await get_program(db, credit_program)
            if program is not None and program.compensation != "per-kwh":
                raise usage(f"--credit-program: {shown(credit_program)} pays per kW-month "
                            f"({program.compensation}), not per kWh")
        try:
            await tariffs.set_tariff(db, tariff)
        except StationNotFound:
            raise not_found(f"--station: unknown station {shown(station_id or '')}") from None
        except ProgramNotFound:
            raise not_found(f"--credit-program: no program {shown(credit_program or '')}"
                            ) from None
        return await tariffs.currency_mismatches(db, station_id, tariff.currency)

    mismatches = with_store(database_url, data_dir, go)
    typer.echo(f"{_whose(station_id)}: {_describe(tariff)}")
    for other, currency_shown in mismatches[:MAX_NOTES]:
        typer.echo(f"note: {other} shows costs in {currency_shown} (TariffCostCtrlr.Currency); "
                   f"csms set-variables {other} TariffCostCtrlr.Currency={tariff.currency}")
    if len(mismatches) > MAX_NOTES:
        typer.echo(f"note: and {len(mismatches) - MAX_NOTES} more stations show costs in "
                   "another currency")


def _whose(station_id: str | None) -> str:
    return "default tariff" if station_id is None else f"tariff of {shown(station_id)}"


def _describe(tariff: Tariff) -> str:
    text = f"{tariff.energy_price} {tariff.currency}/kWh"
    if tariff.credit_program is not None:
        return f"{text}, exported kWh credited at program {tariff.credit_program}'s rate"
    if tariff.discharge_credit is not None:
        return f"{text}, exported kWh credited {tariff.discharge_credit} {tariff.currency}"
    return text


@app.command("list")
def list_(json_out: JsonOption = False, database_url: DatabaseUrlOption = None,
          data_dir: DataDirOption = None) -> None:
    """List the tariffs: the default, then the stations' own."""
    found = with_store(database_url, data_dir, tariffs.list_tariffs)
    if json_out:
        print_json(found)
        return
    rows = [{**vars(t), "station": t.station_id or "(default)"} for t in found]
    print_table(rows, ["station", "currency", "energy_price", "discharge_credit",
                       "credit_program", "credit", "updated_at"], empty="no tariffs")


@app.command("remove")
def remove(station_id: StationOption = None, database_url: DatabaseUrlOption = None,
           data_dir: DataDirOption = None) -> None:
    """Remove the default tariff, or a station's own (--station).

    The station's transactions then get the default tariff (or no cost at all).
    """
    async def go(db: asyncpg.Pool) -> bool:
        if station_id is not None and await get_station(db, station_id) is None:
            raise not_found(f"--station: unknown station {shown(station_id)}")
        return await tariffs.remove_tariff(db, station_id)

    if not with_store(database_url, data_dir, go):
        raise not_found(f"no {_whose(station_id)}")
    typer.echo(f"{_whose(station_id)} removed")


@app.command("cost")
def cost(
    station_id: StationId,
    transaction_id: Annotated[str, typer.Argument(metavar="TX_ID", help="Transaction id.")],
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show a transaction's cost now under its tariff, and what the station was told."""
    async def go(db: asyncpg.Pool) -> dict[str, Any] | None:
        if await get_station(db, station_id) is None:
            raise not_found(f"unknown station {shown(station_id)}")
        inputs = await tariffs.cost_inputs(db, station_id, transaction_id)
        told = await tariffs.cost_record(db, station_id, transaction_id)
        if inputs is None and told is None:
            return None
        return {"station_id": station_id, "transaction_id": transaction_id,
                "imported_wh": None if inputs is None else inputs.imported_wh,
                "exported_wh": None if inputs is None else inputs.exported_wh,
                "tariff": None if inputs is None else inputs.tariff,
                "cost": None if inputs is None else total_cost(inputs),
                "told": told}

    found = with_store(database_url, data_dir, go)
    if found is None:
        raise not_found(f"no cost for transaction {shown(transaction_id)} of "
                        f"{shown(station_id)} (no such transaction, or no tariff applies)")
    if json_out:
        print_json(found)
    else:
        print_fields(found)
