"""Many rows as one statement parameter: a JSON array of arrays, one array per row.

The group commit's statements take a whole batch at once. Passed as one array parameter per
column (``unnest($1::text[], $2::bigint[], ...)``), asyncpg encodes every element on its own,
with a type check of each (a TransactionEvent is 15 columns to insert and 24 to apply): that
was about a tenth of the node's CPU per message under load (docs/performance.md). One JSON
document per statement, written by orjson in one call, costs the node about a third of that,
and PostgreSQL less than the arrays' unnest (``jsonb_array_elements``, each column cast from
its text).

What goes in: text, integers, booleans, None, timestamps (stored to the microsecond; a naive
one is UTC, as asyncpg takes it), JSON values for jsonb columns, and floats through
:func:`real` (JSON has no infinity; orjson would write null).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    raise TypeError(f"{type(value).__name__} is not a row value")


def document(rows: Iterable[Sequence[Any]]) -> str:
    """The rows as the JSON text :func:`select` reads."""
    rows = rows if isinstance(rows, list) else list(rows)
    try:
        return orjson.dumps(rows, option=_OPTIONS).decode()
    except TypeError:
        # what orjson refuses: integers beyond 64 bits (a station's payload may hold one;
        # the column's cast then refuses it as a DataError, as asyncpg's encoder did)
        return json.dumps(rows, separators=(",", ":"), default=_default, allow_nan=False)


def real(value: float | None) -> float | str | None:
    """A float for a float8 column: non-finite ones as text (``'inf'``), which the cast
    reads back; JSON numbers cannot hold them."""
    if value is None or math.isfinite(value):
        return value
    return repr(value)


def reals(values: Iterable[float]) -> str:
    """A float8[] literal of ``values`` (for ``$n::text::float8[]``), each written as repr
    writes it: exact, infinities and NaN included."""
    return "{" + ",".join(map(repr, values)) + "}"


def select(param: int, columns: str) -> str:
    """``SELECT`` of the rows of the JSON document in ``$param``, one column per position.

    ``columns``: "name type, name type, ...", in the rows' order; ``jsonb`` columns are taken
    as the JSON they hold (a JSON null is SQL NULL), ``text`` as it is, the others cast.
    """
    out = []
    for i, column in enumerate(columns.split(",")):
        name, kind = column.split()
        if kind == "jsonb":
            out.append(f"nullif(j->{i}, 'null'::jsonb) AS {name}")
        elif kind == "text":
            out.append(f"j->>{i} AS {name}")
        else:
            out.append(f"(j->>{i})::{kind} AS {name}")
    return f"SELECT {', '.join(out)} FROM jsonb_array_elements(${param}::text::jsonb) AS j"
