"""Printing results: JSON for machines, aligned tables and ``key: value`` lines for people."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import typer

from csms.store.base import jsonable


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    typer.echo(json.dumps(jsonable(value), indent=2, ensure_ascii=False))


def format_cell(value: Any) -> str:
    """One table cell: empty for None, ISO seconds for times, compact JSON for structures."""
    value = jsonable(value)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, empty: str) -> None:
    """Print ``rows`` as a left-aligned table with a header, or ``empty`` when there are none."""
    if not rows:
        typer.echo(empty)
        return
    cells = [[format_cell(row.get(c)) for c in columns] for row in rows]
    headers = [c.upper().replace("_", " ") for c in columns]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    for line in [headers, *cells]:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``{"a": {"b": [1]}}`` -> ``[("a.b[0]", 1)]``: nested JSON as path/value pairs."""
    if isinstance(value, dict):
        if not value and prefix:
            return [(prefix, "{}")]
        pairs: list[tuple[str, Any]] = []
        for k, v in value.items():
            pairs += flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return pairs
    if isinstance(value, list):
        if not value:
            return [(prefix, "[]")]
        pairs = []
        for i, v in enumerate(value):
            pairs += flatten(v, f"{prefix}[{i}]")
        return pairs
    return [(prefix, value)]


def print_fields(value: Any) -> None:
    """Print a record as ``key: value`` lines, nested fields as dotted paths."""
    for key, v in flatten(jsonable(value)):
        typer.echo(f"{key}: {format_cell(v)}")
