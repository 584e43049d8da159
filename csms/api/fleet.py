"""``GET /v1/fleet/capacity``: what the EVs plugged in now can export over a window;
``GET /v1/fleet/forecast``: what the fleet can hold over a future window, from its history."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from csms.api import models_grid as g
from csms.api.auth import Scope, needs
from csms.api.context import Ctx
from csms.api.errors import invalid, not_found, responses
from csms.grid.service import forecast, plugin_outlook, program_or_default
from csms.store.grid.records import GridInputError

router = APIRouter(prefix="/v1/fleet", tags=["grid"])


@router.get("/capacity", response_model=g.Capacity, dependencies=[needs(Scope.READ)],
            responses=responses(401, 403, 404, 422))
async def capacity(
    ctx: Ctx,
    start: Annotated[datetime, Query(alias="from", description="Window start.")],
    until: Annotated[datetime, Query(description="Window end.")],
    program: Annotated[str | None, Query(max_length=64, description=(
        "Program whose rules apply (default: 'default').")) ] = None,
    group: Annotated[str | None, Query(max_length=64, description="Only this station group.")]
    = None,
) -> g.Capacity:
    """How many kW the plugged-in EVs can hold over the window, per EV and in total, and the
    firm figure to nominate (total less a reserve)."""
    if until <= start:
        raise invalid("until: must be after from")
    try:
        chosen = await program_or_default(ctx.pool, program)
        cap = await forecast(ctx.pool, chosen, start, until, group)
    except GridInputError as exc:
        raise invalid(str(exc)) from None
    except LookupError as exc:
        raise not_found(str(exc)) from None
    return g.Capacity(
        start=start, until=until, evs=len(cap.capabilities), eligible=cap.eligible,
        capacity_kw=round(cap.total_kw, 3), reserve_kw=round(cap.reserve_kw, 3),
        firm_kw=round(cap.firm_kw, 3), energy_kwh=round(cap.energy_kwh, 3),
        committed_kw=round(cap.committed_kw, 3),
        by_ev=[g.EvCapacity(ev=c.key, soc=c.ev.soc, keep_soc=c.keep_soc,
                            departure=c.ev.departure, kw=round(c.kw, 3),
                            kwh=round(c.energy_kwh, 3), note=c.reason)
               for c in cap.capabilities])


def _moment(field: str, text: str, day: date | None, zone: ZoneInfo) -> datetime:
    """``text`` as a time: HH:MM on ``day`` in the program's zone, or else ISO 8601 (UTC
    without an offset); a 422 naming ``field`` otherwise."""
    text = text.strip()
    if day is not None:
        try:
            return datetime.combine(day, time.fromisoformat(text), zone)
        except ValueError:
            raise invalid(f"{field}: not a time of day HH:MM (with date=)") from None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"{field}: not an ISO 8601 date and time (or give date= and "
                      "HH:MM)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@router.get("/forecast", response_model=g.PluginForecast, dependencies=[needs(Scope.READ)],
            responses=responses(401, 403, 404, 422))
async def plugin_forecast(
    ctx: Ctx,
    start: Annotated[str, Query(alias="from", max_length=40, description=(
        "Window start: ISO 8601, or HH:MM with date= (the program's time zone)."),
        examples=["16:00", "2026-07-15T23:00:00Z"])],
    until: Annotated[str, Query(max_length=40, description="Window end, as from.")],
    day: Annotated[date | None, Query(alias="date", description=(
        "Day of the window (YYYY-MM-DD, the program's time zone); from and until are then "
        "times of day."))] = None,
    program: Annotated[str | None, Query(max_length=64, description=(
        "Program whose floor, time zone and defaults apply (default: 'default').")) ] = None,
    group: Annotated[str | None, Query(max_length=64, description="Only this station group.")]
    = None,
    weeks: Annotated[int, Query(ge=1, le=104, description="Weeks of history to learn from.")]
    = 8,
) -> g.PluginForecast:
    """What the fleet can hold over a future window, learnt from the stored sessions of the
    last ``weeks`` weeks: each EVSE's chance of being plugged in and its SoC by hour of week,
    the expected kW and the firm kW it holds with 90 % probability (P90)."""
    try:
        chosen = await program_or_default(ctx.pool, program)
        zone = ZoneInfo(chosen.timezone)
        begin = _moment("from", start, day, zone)
        end = _moment("until", until, day, zone)
        if end <= begin:
            raise invalid("until: must be after from")
        found = await plugin_outlook(ctx.pool, chosen, begin, end, weeks=weeks, group=group)
    except GridInputError as exc:
        raise invalid(str(exc)) from None
    except LookupError as exc:
        raise not_found(str(exc)) from None
    return g.PluginForecast(
        program=chosen.name, start=found.start, until=found.end, evses=len(found.evses),
        expected_kw=round(found.expected_kw, 3), firm_p90_kw=round(found.firm_kw, 3),
        weeks_of_history=weeks,
        by_evse=[g.EvseForecast(evse=e.key, chance=round(e.chance, 4), soc=round(e.soc, 4),
                                kw_if_there=round(e.kw_if_there, 3),
                                expected_kw=round(e.expected_kw, 3)) for e in found.evses])
