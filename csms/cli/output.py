"""Printing results: JSON for machines, aligned tables and ``key: value`` lines for people."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import typer

from csms import readable
from csms.store.base import jsonable


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    typer.echo(json.dumps(jsonable(value), indent=2, ensure_ascii=False))


def _rounded(value: Any, name: str) -> Any:
    """Floats in ``value`` rounded for people (:func:`csms.readable.by_name`), structures
    walked with their keys as names."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return readable.by_name(name, value)
    if isinstance(value, dict):
        return {k: _rounded(v, _leaf(f"{name}.{k}")) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v, name) for v in value]
    return value


def format_cell(value: Any, name: str = "") -> str:
    """One table cell: empty for None, ISO seconds for times, compact JSON for structures,
    numbers rounded for people by the field's ``name`` (``*_kw`` to 0.1 kW, ...)."""
    value = _rounded(jsonable(value), name)
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
    cells = [[format_cell(row.get(c), c) for c in columns] for row in rows]
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
        typer.echo(f"{key}: {format_cell(v, _leaf(key))}")


def _leaf(path: str) -> str:
    """The field name a dotted path ends in, skipping list indexes and map keys that are
    not names (``last_step.setpoints.SIM1/1`` is a kW value under ``setpoints``)."""
    parts = [p.split("[")[0] for p in path.split(".")]
    for part in reversed(parts):
        if part.replace("_", "").isalpha():
            return part
    return parts[-1]
