"""The fleet page, the list of grid events and an event's page (live while it runs, with its
measurement and verification report once it has ended)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from csms.api.dashboard.access import PREFIX, to_login, viewer
from csms.api.dashboard.rendering import render
from csms.api.dashboard.signing import Grant
from csms.api.events import chart_png
from csms.grid.curves import EventCurves, event_curves, stepped
from csms.grid.report import build_report
from csms.store.grid import events as events_store
from csms.store.grid import fleet as fleet_store
from csms.store.grid.events import EventRecord
from csms.store.overview import EvseRow, fleet_rows

router = APIRouter(prefix=PREFIX, include_in_schema=False)

#: the stream types each page listens to
FLEET_TYPES = ("station.connected,station.disconnected,transaction.started,transaction.ended,"
               "meter.sampled,evse.status,event.started,event.completed")
EVENT_TYPES = "event.started,event.step,event.completed,meter.sampled"
FINISHED = ("completed", "cancelled")


def not_found(request: Request, what: str) -> Response:
    """The dashboard's 404 page."""
    return render(request, "missing.html", {"what": what, "grant": None}, status_code=404)


def _matches(row: EvseRow, q: str, online: str, status: str) -> bool:
    if (online == "online" and not row.connected) or (online == "offline" and row.connected):
        return False
    if status and (row.status or "Unknown") != status:
        return False
    if q:
        hay = " ".join(str(v) for v in (row.station_id, row.vendor_name, row.model,
                                         row.transaction_id, row.id_token) if v).lower()
        return q.lower() in hay
    return True


@router.get("/", response_class=HTMLResponse)
async def fleet(
    request: Request,
    q: Annotated[str, Query(max_length=100)] = "",
    online: Annotated[str, Query(pattern="^(|online|offline)$")] = "",
    status: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """Every station's EVSEs: online, status, SoC, power, running transaction."""
    grant = await viewer(request)
    if grant is None:
        return to_login(request)
    pool = request.app.state.api.pool
    rows = await fleet_rows(pool)
    stations = {r.station_id: r.connected for r in rows}
    plugged = [r for r in rows if r.transaction_id]
    summary = {
        "stations": len(stations), "online": sum(stations.values()), "plugged": len(plugged),
        "import_kw": sum(r.import_kw or 0.0 for r in plugged),
        "export_kw": sum(r.export_kw or 0.0 for r in plugged)}
    statuses = sorted({r.status or "Unknown" for r in rows if r.evse_id is not None})
    running = [*await events_store.list_events(pool, "active", 10),
               *await events_store.list_events(pool, "scheduled", 10)]
    return render(request, "fleet.html", {
        "grant": grant, "rows": [r for r in rows if _matches(r, q.strip(), online, status)],
        "total_rows": len(rows), "summary": summary, "statuses": statuses,
        "q": q, "online": online, "status": status, "events": running,
        "stream_types": FLEET_TYPES, "fleet_data": {
            "online": stations,
            "evses": {f"{r.station_id}/{r.evse_id}": {
                "import": r.import_kw, "export": r.export_kw, "tx": r.transaction_id}
                for r in rows if r.evse_id is not None}}})


@router.get("/events", response_class=HTMLResponse)
async def events(request: Request) -> Response:
    """Grid events, latest start first."""
    grant = await viewer(request)
    if grant is None:
        return to_login(request)
    found = await events_store.list_events(request.app.state.api.pool, None, 100)
    return render(request, "events.html", {"grant": grant, "events": found})


async def _viewed_event(request: Request, event_id: int) -> tuple[Grant, EventRecord] | Response:
    """The signed-in viewer and the grid event, or what to answer instead: the login page for
    no viewer, the 404 page for no such event."""
    grant = await viewer(request)
    if grant is None:
        return to_login(request)
    record = await events_store.get_event(request.app.state.api.pool, event_id)
    if record is None:
        return not_found(request, f"grid event {event_id}")
    return grant, record


@router.get("/events/{event_id}/report.png")
async def event_png(request: Request, event_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
                    ) -> Response:
    """The event's report as a picture (what ``csms events report --png`` draws)."""
    found = await _viewed_event(request, event_id)
    if isinstance(found, Response):
        return found
    _, record = found
    pool = request.app.state.api.pool
    seconds = (record.event.end - record.event.start).total_seconds()
    report = await build_report(pool, event_id, interval_s=_interval_for(seconds))
    drawn = await event_curves(pool, event_id)
    return Response(await asyncio.to_thread(chart_png, report, drawn), media_type="image/png",
                    headers={"Cache-Control": "no-store"})


def _chart_data(drawn: EventCurves) -> dict[str, Any]:
    data = drawn.to_dict()
    for shown, ev in zip(data["evs"], drawn.evs, strict=True):
        # SoC on the chart's grid: each EV's latest reading at each time (None before any)
        shown["soc_grid"] = stepped(ev.soc, drawn.times, None)
    return data


def _interval_for(seconds: float) -> float:
    """M&V intervals shown for an event this long: 5 minutes, finer for a short event (at
    least 6 intervals, none under 10 s)."""
    return 300.0 if seconds >= 1800 else max(10.0, round(seconds / 6.0))


@router.get("/events/{event_id}", response_class=HTMLResponse)
async def event(
    request: Request, event_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    interval: Annotated[float | None, Query(ge=1, le=86400)] = None,
) -> Response:
    """An event: target against measured export, each EV's part, SoC against floor and need,
    EVs set aside and why; the M&V report once it has ended."""
    found = await _viewed_event(request, event_id)
    if isinstance(found, Response):
        return found
    grant, record = found
    pool = request.app.state.api.pool
    now = datetime.now(UTC)
    drawn = await event_curves(pool, event_id, now)
    every = await fleet_store.event_evs(pool, event_id)
    steps = await fleet_store.control_steps(pool, event_id)
    finished = record.event.status in FINISHED
    report = None
    if finished or record.event.end <= now:
        seconds = (record.event.end - record.event.start).total_seconds()
        report = await build_report(pool, event_id, interval_s=interval or _interval_for(seconds),
                                    now=now)
    latest = {e.key: (e.soc[-1][1] if e.soc else None) for e in drawn.evs}
    return render(request, "event.html", {
        "grant": grant, "record": record, "event": record.event, "curves": drawn,
        "chart": _chart_data(drawn), "latest_soc": latest, "finished": finished,
        "excluded": [r for r in every if r["state"] == "excluded"],
        "set_aside": [e for e in drawn.evs if e.state == "set_aside"],
        "last_step": steps[-1] if steps else None, "report": report,
        "stream_types": "" if finished else EVENT_TYPES})
