"""``/v1/events``: grid events — create, import a market partner's dispatch, list, show,
cancel, and the measurement and verification report (JSON, CSV or PNG)."""

from __future__ import annotations

import asyncio
import io
import threading
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query, Response

from csms.api import models_grid as g
from csms.api.auth import Scope, needs
from csms.api.context import Ctx
from csms.api.errors import conflict, invalid, not_found, responses
from csms.api.models import Page
from csms.api.negotiation import CSV, JSON, PNG, choose
from csms.api.pagination import Cursor, Limit, decode, encode
from csms.grid.curves import EventCurves, event_curves
from csms.grid.report import EventReport, build_report, write_csv, write_png
from csms.grid.service import create_event, import_dispatch
from csms.store.grid import events as store
from csms.store.grid import fleet as fleet_store
from csms.store.grid.records import EVENT_STATUSES, GridInputError

router = APIRouter(prefix="/v1/events", tags=["grid"])

EventId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def event_fields(record: store.EventRecord) -> dict[str, Any]:
    """An event record as the API shows it."""
    e = record.event
    return {"id": e.id, "program": e.program, "status": e.status, "start": e.start,
            "end": e.end, "target_kw": e.target_kw, "forecast_kw": record.forecast_kw,
            "firm_kw": record.firm_kw, "shortfall_kw": record.shortfall_kw, "group": e.group,
            "nomination_kw": e.nomination_kw, "external_id": e.external_id,
            "activated_at": record.activated_at, "finished_at": record.finished_at,
            "note": record.note}


@router.get("", response_model=Page[g.Event], dependencies=[needs(Scope.READ)],
            responses=responses(401, 403, 422))
async def list_events(
    ctx: Ctx,
    status: Annotated[str | None, Query(description="Only events of this status: "
                                        + ", ".join(EVENT_STATUSES))] = None,
    limit: Limit = 100, cursor: Cursor = None,
) -> Page[g.Event]:
    """Events, latest start first."""
    if status is not None and status not in EVENT_STATUSES:
        raise invalid(f"status: must be one of {', '.join(EVENT_STATUSES)}")
    after = tuple(decode(cursor, datetime, int)) if cursor else None
    found = await store.list_events(ctx.pool, status, limit + 1, after=after)  # type: ignore[arg-type]
    page = found[:limit]
    return Page[g.Event](
        items=[g.Event(**event_fields(r)) for r in page],
        next_cursor=encode(page[-1].event.start, page[-1].event.id)
        if len(found) > limit else None)


@router.post("", status_code=201, response_model=g.EventCreated,
             dependencies=[needs(Scope.DISPATCH)], responses=responses(401, 403, 404, 422))
async def create(ctx: Ctx, body: g.EventCreate, response: Response) -> g.EventCreated:
    """Schedule an event; the answer holds the capacity forecast and any shortfall."""
    if (body.target_kw is None) == (not body.max):
        raise invalid("give exactly one of target_kw and max")
    if (body.end is None) == (body.duration_s is None):
        raise invalid("give exactly one of end and duration_s")
    end = body.end or body.start + timedelta(seconds=body.duration_s or 0)
    if end <= body.start:
        raise invalid("end: must be after start")
    try:
        created = await create_event(ctx.pool, body.program, body.start, end, body.target_kw,
                                     body.group)
    except GridInputError as exc:
        raise invalid(str(exc)) from None
    except LookupError as exc:
        raise not_found(str(exc)) from None
    record = await store.get_event(ctx.pool, created.event_id)
    assert record is not None
    response.headers["Location"] = f"/v1/events/{created.event_id}"
    return g.EventCreated(**event_fields(record), eligible_evs=created.capacity.eligible,
                          reserve_kw=round(created.capacity.reserve_kw, 3))


@router.post("/import", response_model=list[g.Imported], dependencies=[needs(Scope.DISPATCH)],
             responses=responses(401, 403, 404, 422))
async def import_(
    ctx: Ctx,
    dispatch: Annotated[dict[str, Any], Body(description=(
        "A market partner's dispatch, as `csms events import` reads it (docs/grid.md)."))],
    program: Annotated[str | None, Query(max_length=64, description=(
        "Program for timeslots naming none that exists here."))] = None,
) -> list[g.Imported]:
    """Import a dispatch: its timeslots become events, de-duplicated on their ids (importing
    it again updates or cancels them)."""
    try:
        results = await import_dispatch(ctx.pool, dispatch, program)
    except GridInputError as exc:
        raise invalid(str(exc)) from None
    except LookupError as exc:
        raise not_found(str(exc)) from None
    return [g.Imported.model_validate(r) for r in results]


@router.get("/{event_id}", response_model=g.EventDetail, dependencies=[needs(Scope.READ)],
            responses=responses(401, 403, 404, 422))
async def get_event(ctx: Ctx, event_id: EventId) -> g.EventDetail:
    """An event, its EVs (taking part, excluded, set aside) and its last control step."""
    record = await store.get_event(ctx.pool, event_id)
    if record is None:
        raise not_found(f"no event {event_id}")
    steps = await fleet_store.control_steps(ctx.pool, event_id)
    evs = await fleet_store.event_evs(ctx.pool, event_id)
    return g.EventDetail(**event_fields(record), steps=len(steps),
                         last_step=steps[-1] if steps else None,
                         evs=[g.EventEv.model_validate(e) for e in evs])


@router.post("/{event_id}/cancel", response_model=g.Event, dependencies=[needs(Scope.DISPATCH)],
             responses=responses(401, 403, 404, 409, 422))
async def cancel(ctx: Ctx, event_id: EventId) -> g.Event:
    """Cancel a scheduled or active event (an active one stops at its next control step)."""
    status = await store.cancel_event(ctx.pool, event_id)
    if status is None:
        raise not_found(f"no event {event_id}")
    if status not in ("scheduled", "active"):
        raise conflict(f"event {event_id} is already {status}")
    record = await store.get_event(ctx.pool, event_id)
    assert record is not None
    return g.Event(**event_fields(record))


@router.get(
    "/{event_id}/report", response_model=g.Report, dependencies=[needs(Scope.READ)],
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}},
                                 "image/png": {"schema": {"type": "string",
                                                          "format": "binary"}}},
                     "description": "JSON, the intervals as CSV (Accept: text/csv) or the "
                     "charts (Accept: image/png): fleet export at meter resolution against "
                     "the target, each EV's part stacked, each EV's SoC against its floor "
                     "and departure need"},
               **responses(401, 403, 404, 406, 422)})
async def report(
    ctx: Ctx, event_id: EventId,
    interval_s: Annotated[float, Query(ge=1, le=86400, description="Interval length.")] = 300,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    """Delivered export per interval and per hour against target and baseline, performance,
    payment, and each driver's energy and earnings."""
    kind = choose(accept, JSON, CSV, PNG)
    try:
        result = await build_report(ctx.pool, event_id, interval_s=interval_s)
    except LookupError as exc:
        raise not_found(str(exc)) from None
    if kind == CSV:
        out = io.StringIO()
        write_csv(result, out)
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8")
    if kind == PNG:
        drawn = await event_curves(ctx.pool, event_id)
        return Response(await asyncio.to_thread(chart_png, result, drawn), media_type=PNG)
    return g.Report.model_validate(result.to_dict())


#: pyplot keeps global state: one chart at a time (charts are drawn in worker threads)
_CHARTING = threading.Lock()


def chart_png(result: EventReport, drawn: EventCurves) -> bytes:
    """The report's charts as PNG bytes (call in a worker thread: drawing takes a while)."""
    out = io.BytesIO()
    with _CHARTING:
        write_png(result, drawn, out)  # type: ignore[arg-type]  # savefig takes a file object
    return out.getvalue()
