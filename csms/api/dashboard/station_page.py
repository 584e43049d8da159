"""A station's page: boot data, EVSEs, connection history, transactions with their meter
curves, the profiles the CSMS believes installed and the composite schedule they make, and
the commands sent with their answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from csms.api.dashboard.access import PREFIX, to_login, viewer
from csms.api.dashboard.pages import not_found
from csms.api.dashboard.rendering import render
from csms.operations.profiles import believed_profiles
from csms.smartcharging.composite import composite_schedule
from csms.smartcharging.installed import InstalledProfiles
from csms.store import charging
from csms.store.overview import connection_history, curves, fleet_rows, station_commands
from csms.store.stations import get_station
from csms.store.transactions import list_transactions

router = APIRouter(prefix=PREFIX, include_in_schema=False)

STATION_TYPES = ("station.connected,station.disconnected,transaction.started,"
                 "transaction.ended,meter.sampled,evse.status")
#: the composite schedule shown: this long from now
COMPOSITE_S = 3600


def _kw(watts: float | None) -> float | None:
    return None if watts is None else watts / 1000.0


async def _composites(pool: Any, station_id: str, installed: InstalledProfiles,
                      evses: list[int], now: datetime) -> list[dict[str, Any]]:
    """Each EVSE's composite schedule over the next hour as chart data (kW, Unix seconds)."""
    out = []
    for evse_id in evses:
        active = await charging.active_transaction(pool, station_id, evse_id)
        schedule = composite_schedule(installed, evse_id, now, COMPOSITE_S, "W",
                                      active[1] if active else None,
                                      transaction_id=active[0] if active else None)
        times, limit, discharge, setpoint = [], [], [], []
        for p in schedule.periods:
            times.append((schedule.schedule_start + timedelta(seconds=p.start_period))
                         .timestamp())
            limit.append(_kw(p.limit))
            discharge.append(_kw(p.discharge_limit))
            setpoint.append(_kw(p.setpoint))
        times.append(schedule.end.timestamp())  # the last period holds to the end
        for column in (limit, discharge, setpoint):
            column.append(column[-1] if column else None)
        out.append({"evse_id": evse_id, "times": times, "limit_kw": limit,
                    "discharge_kw": discharge, "setpoint_kw": setpoint,
                    "limited": any(v is not None for v in (*limit, *discharge, *setpoint))})
    return out


@router.get("/stations/{station_id}", response_class=HTMLResponse)
async def station(
    request: Request, station_id: Annotated[str, Path(max_length=48)],
    tx: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """One station in full."""
    grant = await viewer(request)
    if grant is None:
        return to_login(request)
    pool = request.app.state.api.pool
    detail = await get_station(pool, station_id)
    if detail is None:
        return not_found(request, f"station {station_id}")
    now = datetime.now(UTC)
    evse_rows = [r for r in await fleet_rows(pool, station_id) if r.evse_id is not None]
    transactions = await list_transactions(pool, station_id=station_id, limit=20)
    chosen = next((t for t in transactions if t.transaction_id == tx), None) \
        if tx else (transactions[0] if transactions else None)
    curve = None
    if chosen is not None:
        found = (await curves(pool, [(station_id, chosen.transaction_id)]))[
            (station_id, chosen.transaction_id)]
        curve = {"transaction_id": chosen.transaction_id, "running": chosen.ended_at is None,
                 "evse_id": chosen.evse_id,
                 "power": [[t.timestamp(), v] for t, v in found.power],
                 "soc": [[t.timestamp(), v] for t, v in found.soc]}
    installed = await believed_profiles(pool, station_id,
                                        (detail.subprotocol or "ocpp2.1").removeprefix("ocpp"))
    evses = sorted({r.evse_id for r in evse_rows if r.evse_id} |
                   {e.evse_id for e in installed if e.evse_id > 0})
    return render(request, "station.html", {
        "grant": grant, "station": detail, "evses": evse_rows,
        "history": await connection_history(pool, station_id),
        "transactions": transactions, "chosen": chosen, "curve": curve,
        "profiles": list(installed),
        "composites": await _composites(pool, station_id, installed, evses, now),
        "commands": await station_commands(pool, station_id),
        "stream_types": STATION_TYPES, "composite_minutes": COMPOSITE_S // 60})
