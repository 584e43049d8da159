"""``/v1/drivers/{key}``: a driver's floor, departure, need and opt-out, per ID token
(``?kind=token``, the default) or station (``?kind=station``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from csms.api import models_grid as g
from csms.api.auth import Scope, needs
from csms.api.context import Ctx
from csms.api.errors import invalid, not_found, responses
from csms.api.programs import check_timezone
from csms.store.grid.fleet import get_driver_settings, save_driver_settings
from csms.store.grid.records import DriverSettings, GridInputError

router = APIRouter(prefix="/v1/drivers", tags=["grid"])

Key = Annotated[str, Path(min_length=1, max_length=255, description=(
    "The driver's ID token, or the station the vehicle is usually plugged into."))]
Kind = Annotated[Literal["token", "station"], Query(description="What the key is.")]


@router.get("/{key}", response_model=g.Driver, dependencies=[needs(Scope.READ)],
            responses=responses(401, 403, 404, 422))
async def get_driver(ctx: Ctx, key: Key, kind: Kind = "token") -> g.Driver:
    """A driver's settings."""
    settings = await get_driver_settings(ctx.pool, kind, key)
    if settings is None:
        raise not_found(f"no settings for {kind} {key}")
    return g.Driver.model_validate(settings)


@router.put("/{key}", response_model=g.Driver, dependencies=[needs(Scope.DISPATCH)],
            responses=responses(401, 403, 422))
async def put_driver(ctx: Ctx, key: Key, body: g.DriverUpdate, kind: Kind = "token"
                     ) -> g.Driver:
    """Save a driver's settings (they replace earlier ones)."""
    if body.need_soc is not None and body.need_kwh is not None:
        raise invalid("give at most one of need_soc and need_kwh")
    check_timezone(body.timezone)
    try:
        settings = DriverSettings(kind, key, **body.model_dump())
    except GridInputError as exc:
        raise invalid(str(exc)) from None
    await save_driver_settings(ctx.pool, settings)
    return g.Driver.model_validate(settings)
