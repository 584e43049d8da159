"""``csms meter-values export``: every sampled value as CSV, for analysis and settlement."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Annotated, TextIO

import asyncpg
import typer

from csms.cli.base import DatabaseUrlOption, DataDirOption, with_store
from csms.cli.errors import usage
from csms.cli.times import time_option
from csms.store.metering import MeterValueRow, stream_meter_values

app = typer.Typer(help="Export the sampled meter values.", no_args_is_help=True)

HEADER = (
    "station",
    "evse",
    "transaction",
    "timestamp",
    "measurand",
    "phase",
    "location",
    "unit",
    "value",
)


def csv_row(row: MeterValueRow) -> list[str]:
    """One CSV line of a stored value: empty cells for absent fields, time in ISO 8601 UTC."""
    return [
        row.station_id,
        "" if row.evse_id is None else str(row.evse_id),
        row.transaction_id or "",
        row.timestamp.isoformat(),
        row.measurand,
        row.phase or "",
        row.location,
        row.unit or "",
        repr(row.value),
    ]


@app.command("export")
def export(
    station_id: Annotated[
        str | None, typer.Option("--station", metavar="ID", help="Only this station's values.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--from", metavar="WHEN", help="Values at or after (ISO 8601, now, -2h)."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", metavar="WHEN", help="Values before (ISO 8601, now, -30m)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", metavar="FILE", help="Write to FILE instead of stdout."),
    ] = None,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write meter values as CSV (station, evse, transaction, timestamp, measurand, phase,
    location, unit, value), ordered by station and time."""
    since_at = time_option("--from", since)
    until_at = time_option("--until", until)
    if since_at is not None and until_at is not None and until_at <= since_at:
        raise usage("--until: must be later than --from")

    async def write(db: asyncpg.Pool, out: TextIO) -> int:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        count = 0
        async with db.acquire() as conn:
            async for row in stream_meter_values(
                conn, station_id=station_id, since=since_at, until=until_at
            ):
                writer.writerow(csv_row(row))
                count += 1
        return count

    if output is None:
        with_store(database_url, data_dir, lambda db: write(db, sys.stdout))
        return
    if output.is_dir():
        raise usage(f"--output: {output} is a directory")
    # Write beside the target and rename at the end: a failed export leaves no half file.
    partial = output.with_name(output.name + ".partial")
    try:
        handle = open(partial, "w", newline="", encoding="utf-8")
    except OSError as exc:
        raise usage(f"--output: cannot write {output}: {exc.strerror or exc}") from None
    try:
        with handle:
            count = with_store(database_url, data_dir, lambda db: write(db, handle))
        try:
            os.replace(partial, output)
        except OSError as exc:
            raise usage(f"--output: cannot write {output}: {exc.strerror or exc}") from None
    finally:
        if partial.exists():
            partial.unlink()
    typer.echo(f"{count} meter values written to {output}")
