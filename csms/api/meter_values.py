"""``GET /v1/meter-values``: JSON pages, or the whole range as CSV streamed from a
server-side cursor (the columns of ``csms meter-values export``), in bounded memory."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from csms.api import models as m
from csms.api.auth import Scope, needs
from csms.api.context import ApiState, Ctx
from csms.api.errors import invalid, responses
from csms.api.negotiation import CSV, JSON, choose
from csms.api.pagination import Cursor, decode, encode
from csms.store import listing
from csms.store.listing import MeterPosition
from csms.store.metering import MeterValueRow, stream_meter_values

router = APIRouter(tags=["meter values"])

#: the CSV header, as ``csms meter-values export`` writes it
HEADER = ("station", "evse", "transaction", "timestamp", "measurand", "phase", "location",
          "unit", "value")
#: rows per chunk of the CSV stream
CHUNK_ROWS = 1000


def csv_row(row: MeterValueRow) -> list[str]:
    """One CSV line of a value: empty cells for absent fields, time in ISO 8601 UTC."""
    return [row.station_id, "" if row.evse_id is None else str(row.evse_id),
            row.transaction_id or "", row.timestamp.isoformat(), row.measurand, row.phase or "",
            row.location, row.unit or "", repr(row.value)]


async def csv_stream(state: ApiState, station: str | None, since: datetime | None,
                     until: datetime | None) -> AsyncIterator[bytes]:
    """The CSV export, a chunk of :data:`CHUNK_ROWS` rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    rows = 0
    async with state.pool.acquire() as conn:
        async for row in stream_meter_values(conn, station_id=station, since=since,
                                             until=until, batch=CHUNK_ROWS):
            writer.writerow(csv_row(row))
            rows += 1
            if rows % CHUNK_ROWS == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode()


@router.get(
    "/v1/meter-values", response_model=m.Page[m.MeterValue], dependencies=[needs(Scope.READ)],
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                     "description": "JSON pages, or CSV (Accept: text/csv) of the whole range"},
               **responses(401, 403, 406, 422)})
async def meter_values(
    ctx: Ctx,
    station: Annotated[str | None, Query(max_length=255, description="Only this station's.")]
    = None,
    since: Annotated[datetime | None, Query(alias="from", description="At or after.")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="Before.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Values per JSON page.")] = 1000,
    cursor: Cursor = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    """Sampled values ordered by station and time, in their measurand's canonical unit.

    ``Accept: text/csv`` streams every value of the range as CSV (station, evse, transaction,
    timestamp, measurand, phase, location, unit, value), ignoring ``limit`` and ``cursor``.
    """
    if since is not None and until is not None and until <= since:
        raise invalid("to: must be later than from")
    if choose(accept, JSON, CSV) == CSV:
        return StreamingResponse(csv_stream(ctx, station, since, until),
                                 media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition":
                                          'attachment; filename="meter-values.csv"'})
    after = MeterPosition(*decode(cursor, str, datetime, int)) if cursor else None
    rows, position = await listing.meter_value_page(
        ctx.pool, station_id=station, since=since, until=until, limit=limit, after=after)
    return m.Page[m.MeterValue](
        items=[m.MeterValue.model_validate(r) for r in rows],
        next_cursor=None if position is None else encode(
            position.station_id, position.timestamp, position.seen))
