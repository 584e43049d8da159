"""Array literals: what PostgreSQL reads back is what was written, element for element."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from csms.store import arrays

# Text PostgreSQL can hold: no NUL, no lone surrogate.
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                max_size=12)
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
instants = st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=offsets)
floats = st.floats(allow_nan=True, allow_infinity=True)
COLUMNS = {
    "text": texts,
    "float8": floats,
    "bigint": st.integers(-(2**63), 2**63 - 1),
    "integer": st.integers(-(2**31), 2**31 - 1),
    "boolean": st.booleans(),
    "timestamptz": instants,
}
HYPOTHESIS = settings(max_examples=150, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])


async def read_back(pool: asyncpg.Pool, kind: str, values: list) -> list:
    text = arrays.literal(values)
    assert isinstance(text, str)
    return await pool.fetchval(f"SELECT $1::text::{kind}[]", text)


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b  # datetimes: the same instant, whatever the offset


@pytest.mark.parametrize("kind", sorted(COLUMNS))
@HYPOTHESIS
@given(data=st.data())
async def test_every_column_type_reads_back_as_written(pool: asyncpg.Pool, kind: str,
                                                       data: st.DataObject) -> None:
    values = data.draw(st.lists(st.none() | COLUMNS[kind], max_size=8))
    back = await read_back(pool, kind, values)
    assert len(back) == len(values)
    assert all(same(a, b) for a, b in zip(values, back, strict=True)), (values, back)


@HYPOTHESIS
@given(documents=st.lists(st.none() | st.dictionaries(
    texts, st.recursive(st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts,
                        lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(texts, inner, max_size=3), max_leaves=6),
    max_size=4), max_size=5))
@example(documents=[{"a\nb": "c\"\\d"}, None, {"x": "\\n"}])
async def test_json_documents_read_back_as_written(pool: asyncpg.Pool,
                                                   documents: list) -> None:
    text = arrays.json_literal(documents)
    back = await pool.fetchval("SELECT $1::text::jsonb[]", text)
    assert back == documents


def test_plain_values_are_written_by_orjson_as_json_would() -> None:
    at = datetime(2026, 6, 1, 16, 0, 0, 123456, tzinfo=UTC)
    assert arrays.literal(["CS-1", None, 'say "hi" \\']) == '{"CS-1",null,"say \\"hi\\" \\\\"}'
    assert arrays.literal([1.5, None, 7, True]) == "{1.5,null,7,true}"
    assert arrays.literal([at]) == '{"2026-06-01T16:00:00.123456+00:00"}'
    assert arrays.literal([]) == "{}"
    # a naive time is UTC, as OCPP's
    assert arrays.literal([at.replace(tzinfo=None)]) == arrays.literal([at])


@pytest.mark.parametrize(("values", "expected"), [
    # JSON would write \n, which an array literal reads as n
    (["a\nb", "c"], '{"a\nb","c"}'),
    # an escaped backslash before an n is no escape of a control character: orjson's text
    (["\\n"], '{"\\\\n"}'),
    # not finite: JSON would write null
    ([1.0, math.inf, None, -math.inf], "{1.0,inf,NULL,-inf}"),
    # beyond 64 bits: orjson refuses it, PostgreSQL says it is out of range
    ([2**70], "{1180591620717411303424}"),
])
def test_what_json_would_get_wrong_is_written_element_by_element(values: list,
                                                                  expected: str) -> None:
    assert arrays.literal(values) == expected


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2], b"bytes"])
def test_an_element_of_another_kind_is_refused(value: object) -> None:
    with pytest.raises(TypeError):
        arrays.literal(["ok", value])


async def test_a_value_out_of_the_columns_range_is_a_data_error(pool: asyncpg.Pool) -> None:
    for kind, values in (("integer", [2**31]), ("bigint", [2**70])):
        with pytest.raises(asyncpg.DataError):
            await read_back(pool, kind, values)
