"""Array parameters sent as the text of PostgreSQL array literals, one text parameter each.

The group commit's statements take one array per column (``unnest($1::text::text[], ...)``),
hundreds of elements per batch. asyncpg encodes an array parameter element by element: it asks
``collections.abc`` whether each element is itself an array and converts it in Python, about
0.15-0.3 us for a number or a string and 0.7 us for a timestamp. Written as an array literal by
orjson (in C), a column costs about a microsecond whatever its length, and PostgreSQL reads it
with each element type's own input function: the statement says ``$n::text::type[]``.
Measured in docs/performance.md.

orjson's JSON array is an array literal's content, between other brackets, for every element
but three kinds, which :func:`literal` finds in what orjson wrote and then writes element by
element instead (exactly, only slower):

- a string with a control character: JSON escapes it (``\\n``, ``\\u0001``), while in an array
  literal a backslash only quotes the next character. The two escapes JSON writes for ``"`` and
  ``\\`` mean the same in both;
- a float that is not finite: JSON has no such number and orjson writes ``null``;
- anything orjson writes as a JSON object or array, and anything it refuses (an integer beyond
  64 bits): the element-by-element writer takes what it knows (None, bool, int, float, str,
  datetime) and raises TypeError for the rest.

Datetimes are written in RFC 3339 with their offset; a datetime without one is taken as UTC (as
everything OCPP sends). JSON documents (``jsonb[]``) go through :func:`json_literal`, which
quotes each one's text.

An array in a target list or a WHERE clause is evaluated where it stands, once per row for a
cast of a parameter in a generic plan: such a statement reads it through a sub-select, which
PostgreSQL evaluates once (``(SELECT $6::text::float8[])``); the arguments of a function in
FROM (``unnest``) are evaluated once anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from csms.store.db import dumps_json

_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_PASSTHROUGH_DATACLASS


def literal(values: Sequence[Any]) -> str:
    """``values`` (None, bool, int, float, str, datetime) as a PostgreSQL array literal."""
    try:
        text = orjson.dumps(values, option=_OPTIONS)
    except TypeError:
        return _by_element(values)
    inner = text[1:-1]
    if ((b"\\" in inner and _other_escape(inner))
            or (b"null" in inner and inner.count(b"null") != values.count(None))
            or b"{" in inner or b"[" in inner):
        return _by_element(values)
    return "{" + inner.decode() + "}"


def _other_escape(json: bytes) -> bool:
    """Whether JSON text escapes something else than ``"`` and ``\\``. Every backslash
    starts an escape of the character after it: take away the escaped backslashes, from the
    left as JSON reads them, then the escaped quotes, and any backslash left starts another
    escape."""
    return b"\\" in json.replace(b"\\\\", b"").replace(b'\\"', b"")


def json_literal(documents: Sequence[Any]) -> str:
    """JSON documents (None: NULL) as the literal of a ``jsonb[]``, each written as
    :func:`csms.store.db.init_connection`'s codec writes one, quoted."""
    return "{" + ",".join("NULL" if d is None else _quoted(dumps_json(d))
                          for d in documents) + "}"


def _by_element(values: Sequence[Any]) -> str:
    return "{" + ",".join(map(_element, values)) + "}"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _element(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(float(value))  # inf, -inf, nan: PostgreSQL reads them
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, datetime):
        return _quoted((value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat())
    raise TypeError(f"an array element cannot be a {type(value).__name__}")
