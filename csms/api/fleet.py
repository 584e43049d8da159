"""``GET /v1/fleet/capacity``: what the EVs plugged in now can export over a window."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from csms.api import models_grid as g
from csms.api.auth import Scope, needs
from csms.api.context import Ctx
from csms.api.errors import invalid, not_found, responses
from csms.grid.service import forecast, program_or_default
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
