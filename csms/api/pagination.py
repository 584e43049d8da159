"""Cursors of list routes: the position after the last item of a page, opaque to clients."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import Query

from csms.api.errors import invalid

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
Cursor = Annotated[str | None, Query(max_length=500,
                                     description="next_cursor of the previous page.")]


def encode(*values: Any) -> str:
    """A cursor holding ``values`` (strings, numbers, datetimes)."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(orjson.dumps(plain)).decode().rstrip("=")


def decode(cursor: str, *kinds: type) -> list[Any]:
    """The values of a cursor, checked against ``kinds``; a 422 for anything else."""
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(kinds):
            raise ValueError
        out: list[Any] = []
        for value, kind in zip(raw, kinds, strict=True):
            if kind is datetime:
                out.append(datetime.fromisoformat(value))
            elif kind is int and type(value) is int and -2**63 <= value < 2**63:
                out.append(value)
            elif kind is str and isinstance(value, str):
                out.append(value)
            else:
                raise ValueError
        return out
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise invalid("cursor: not a cursor this API gave out") from None
