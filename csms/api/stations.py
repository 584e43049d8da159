"""``/v1/stations``: register, list, show and remove stations."""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Response

from csms.api import models as m
from csms.api.auth import Scope, needs
from csms.api.context import Ctx
from csms.api.errors import conflict, invalid, not_found, responses
from csms.api.pagination import Cursor, Limit, decode, encode
from csms.handshake import identity_problem
from csms.store import stations, transactions
from csms.store.base import StationExists
from csms.store.passwords import CHOSEN_LOG2_N, GENERATED_LOG2_N, generate_password, hash_password

router = APIRouter(prefix="/v1/stations", tags=["stations"])

StationPath = Annotated[str, Path(min_length=1, max_length=255, description="Identity.")]


def summary_fields(station: stations.StationSummary) -> dict[str, object]:
    """The stored summary as the API shows it (online, OCPP version)."""
    fields = {k: getattr(station, k) for k in m.StationSummary.model_fields
              if hasattr(station, k)}
    fields["online"] = station.connected
    fields["ocpp"] = (station.subprotocol or "").removeprefix("ocpp") or None
    return fields


@router.get("", response_model=m.Page[m.StationSummary], dependencies=[needs(Scope.READ)],
            responses=responses(401, 403, 422))
async def list_stations(ctx: Ctx, limit: Limit = 100, cursor: Cursor = None
                        ) -> m.Page[m.StationSummary]:
    """Every registered station by identity, with its connection state and boot data."""
    after = decode(cursor, str)[0] if cursor else None
    found = await stations.list_stations(ctx.pool, after=after, limit=limit + 1)
    page = found[:limit]
    return m.Page[m.StationSummary](
        items=[m.StationSummary(**summary_fields(s)) for s in page],
        next_cursor=encode(page[-1].id) if len(found) > limit else None)


@router.get("/{station_id}", response_model=m.StationDetail, dependencies=[needs(Scope.READ)],
            responses=responses(401, 403, 404, 422))
async def get_station(ctx: Ctx, station_id: StationPath) -> m.StationDetail:
    """A station: connection, boot data, EVSEs and connectors, and its running transactions."""
    station = await stations.get_station(ctx.pool, station_id)
    if station is None:
        raise not_found(f"no station {station_id} is registered")
    evses: dict[int, list[m.Connector]] = {}
    for c in station.connectors:
        evses.setdefault(c.evse_id, []).append(m.Connector.model_validate(c))
    running = [t for t in await transactions.list_transactions(
        ctx.pool, station_id=station_id, active=True, limit=100)] \
        if station.active_transactions else []
    return m.StationDetail(
        **summary_fields(station), boot_reason=station.boot_reason,
        modem_iccid=station.modem_iccid, modem_imsi=station.modem_imsi,
        evses=[m.Evse(evse_id=e, connectors=c) for e, c in sorted(evses.items())],
        device_model_variables=station.device_model_variables,
        device_model_components=station.device_model_components,
        transactions=[m.TransactionSummary.model_validate(t) for t in running])


@router.post("", status_code=201, response_model=m.StationCreated,
             dependencies=[needs(Scope.ADMIN)], responses=responses(401, 403, 409, 422))
async def create_station(ctx: Ctx, body: m.StationCreate, response: Response
                         ) -> m.StationCreated:
    """Register a station so it may connect (profiles 1 and 2 need a password)."""
    problem = identity_problem(body.id)
    if problem is not None:
        raise invalid(f"id: {problem}")
    if body.generate_password and body.password is not None:
        raise invalid("password: give either password or generate_password, not both")
    password, cost = ((generate_password(), GENERATED_LOG2_N) if body.generate_password
                      else (body.password, CHOSEN_LOG2_N))
    if password is None and body.security_profile in (1, 2):
        raise invalid(f"password: required for security profile {body.security_profile} "
                      "(or generate_password)")
    hashed = None if password is None else await asyncio.to_thread(
        hash_password, password, log2_n=cost)
    try:
        await stations.register_station(ctx.pool, body.id, None, body.security_profile,
                                         password_hash=hashed)
    except StationExists:
        raise conflict(f"station {body.id} already exists") from None
    response.headers["Location"] = f"/v1/stations/{quote(body.id, safe='')}"
    return m.StationCreated(id=body.id, security_profile=body.security_profile,
                            password=password if body.generate_password else None)


@router.delete("/{station_id}", status_code=204, dependencies=[needs(Scope.ADMIN)],
               responses=responses(401, 403, 404, 422))
async def delete_station(ctx: Ctx, station_id: StationPath) -> Response:
    """Delete a station and everything stored about it."""
    if not await stations.remove_station(ctx.pool, station_id):
        raise not_found(f"no station {station_id} is registered")
    return Response(status_code=204)
