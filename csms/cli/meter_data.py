"""``csms data``: how long meter data is kept, what it takes on disk, and running the daily
maintenance (partitions, rollups, compaction, retention) now."""

from __future__ import annotations

import dataclasses
import re
from typing import Annotated

import asyncpg
import typer

from csms.cli.base import DatabaseUrlOption, DataDirOption, with_store
from csms.cli.errors import shown
from csms.cli.errors import usage as usage_error
from csms.cli.output import print_fields, print_json, print_table
from csms.store import meter_data

app = typer.Typer(help="Meter data retention, disk usage and maintenance.",
                  no_args_is_help=True)

_DAYS = {"d": 1, "w": 7, "y": 365}
_SPAN = re.compile(r"(\d{1,6})([dwy])")


def parse_days(option: str, text: str) -> int | None:
    """``90d``, ``12w``, ``2y`` as days; ``forever`` as None. Raises a usage error naming
    ``option`` otherwise."""
    s = text.strip().lower()
    if s in ("forever", "never"):
        return None
    match = _SPAN.fullmatch(s)
    if match is None or int(match.group(1)) == 0:
        raise usage_error(f"{option}: {shown(text)} is not a retention (examples: 90d, 12w, 2y, "
                          "forever)")
    return int(match.group(1)) * _DAYS[match.group(2)]


def _shown(days: int | None) -> str:
    if days is None:
        return "forever"
    if days % 365 == 0:
        return f"{days // 365}y"
    return f"{days}d"


@app.command("retention")
def retention(
    raw: Annotated[str | None, typer.Option(
        "--raw", metavar="SPAN",
        help="Keep sampled values raw this long, then compact them (e.g. 7d, 90d).")] = None,
    compact: Annotated[str | None, typer.Option(
        "--compact", metavar="SPAN",
        help="Keep compacted sampled values this long (e.g. 2y, or forever).")] = None,
    rollups: Annotated[str | None, typer.Option(
        "--rollups", metavar="SPAN",
        help="Keep per-minute rollups this long (e.g. 10y, or forever).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show, or with options change, how long meter data is kept. The server applies it daily
    by dropping whole partitions (``csms data maintain`` applies it now)."""
    raw_days = parse_days("--raw", raw) if raw is not None else None
    if raw is not None and raw_days is None:
        raise usage_error("--raw: raw values are compacted after a while; give a span (7d)")
    compact_days = parse_days("--compact", compact) if compact is not None else None
    rollup_days = parse_days("--rollups", rollups) if rollups is not None else None

    async def go(db: asyncpg.Pool) -> meter_data.Retention:
        kept = await meter_data.get_retention(db)
        if raw is None and compact is None and rollups is None:
            return kept
        wanted = meter_data.Retention(
            raw_days if raw is not None else kept.raw_days,  # type: ignore[arg-type]
            compact_days if compact is not None else kept.compact_days,
            rollup_days if rollups is not None else kept.rollup_days)
        try:
            wanted.check()
        except ValueError as exc:
            raise usage_error(str(exc)) from None
        await meter_data.set_retention(db, wanted)
        return await meter_data.get_retention(db)

    kept = with_store(database_url, data_dir, go)
    shown = {"raw": _shown(kept.raw_days), "compact": _shown(kept.compact_days),
             "rollups": _shown(kept.rollup_days), "applied_at": kept.applied_at}
    if json_output:
        print_json(shown | {"raw_days": kept.raw_days, "compact_days": kept.compact_days,
                            "rollup_days": kept.rollup_days})
    else:
        print_fields(shown)


@app.command("usage")
def usage(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Disk use of meter data: bytes (indexes included), rows, sampled values and bytes per
    sample of the raw, compacted and rollup tables, with their oldest and newest data."""
    found = with_store(database_url, data_dir, meter_data.usage)
    rows = [dataclasses.asdict(u) for u in found]
    if json_output:
        print_json(rows)
        return
    print_table(rows, ["table", "partitions", "bytes", "rows", "samples", "bytes_per_sample",
                       "oldest", "newest", "estimated"], empty="no meter data tables")


@app.command("maintain")
def maintain(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run the daily maintenance now: partitions ahead, rollups, compaction of raw days past
    their retention, and dropping of partitions past theirs."""
    report = with_store(database_url, data_dir, meter_data.maintain)
    if json_output:
        print_json(dataclasses.asdict(report))
    else:
        print_fields(dataclasses.asdict(report))
