"""The one conversion of records to JSON values used by the CLI, reports and the store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum

from csms.store.base import jsonable


class Colour(Enum):
    RED = "red"


@dataclass
class Row:
    at: datetime
    values: tuple[float, ...]


def test_every_kind_becomes_a_plain_json_value() -> None:
    value = {
        "row": Row(datetime(2026, 7, 15, 16, tzinfo=UTC), (1.5, float("inf"))),
        "day": date(2026, 7, 15), "wait": timedelta(minutes=2), "money": Decimal("12.50"),
        "count": Decimal("3"), "colour": Colour.RED, "tags": {"a"}, 7: None,
    }
    out = jsonable(value)
    assert out == {
        "row": {"at": "2026-07-15T16:00:00+00:00", "values": [1.5, None]},
        "day": "2026-07-15", "wait": 120.0, "money": 12.5, "count": 3, "colour": "red",
        "tags": ["a"], "7": None,
    }
    json.dumps(out, allow_nan=False)
