"""``/v1/transactions``: charging sessions with their energy, events and meter values."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from csms.api import models as m
from csms.api.auth import Scope, needs
from csms.api.context import Ctx
from csms.api.errors import invalid, not_found, responses
from csms.api.pagination import Cursor, Limit, decode, encode
from csms.store import transactions
from csms.store.base import StoreError

router = APIRouter(prefix="/v1/transactions", tags=["transactions"])


@router.get("", response_model=m.Page[m.TransactionSummary], dependencies=[needs(Scope.READ)],
            responses=responses(401, 403, 422))
async def list_transactions(
    ctx: Ctx,
    station: Annotated[str | None, Query(max_length=255, description="Only this station's.")]
    = None,
    active: Annotated[bool | None, Query(description="true: running only; false: ended only.")]
    = None,
    since: Annotated[datetime | None, Query(description="Started at or after.")] = None,
    limit: Limit = 100, cursor: Cursor = None,
) -> m.Page[m.TransactionSummary]:
    """Transactions, newest first, with energy imported and exported (Wh)."""
    after = tuple(decode(cursor, datetime, str, str)) if cursor else None
    found = await transactions.list_transactions(
        ctx.pool, station_id=station, active=active, since=since, limit=limit + 1,
        after=after)  # type: ignore[arg-type]
    page = found[:limit]
    last = page[-1] if page else None
    more = len(found) > limit and last is not None and last.started_at is not None
    return m.Page[m.TransactionSummary](
        items=[m.TransactionSummary.model_validate(t) for t in page],
        next_cursor=encode(last.started_at, last.station_id, last.transaction_id)
        if more and last is not None else None)


@router.get("/{transaction_id}", response_model=m.TransactionDetail,
            dependencies=[needs(Scope.READ)], responses=responses(401, 403, 404, 422))
async def get_transaction(
    ctx: Ctx, transaction_id: Annotated[str, Path(min_length=1, max_length=36)],
    station: Annotated[str | None, Query(max_length=255, description=(
        "The station, when several used this transaction id."))] = None,
) -> m.TransactionDetail:
    """A transaction: energy, duration, its events in order and its meter values."""
    try:
        tx = await transactions.get_transaction(ctx.pool, transaction_id, station_id=station)
    except StoreError as exc:
        raise invalid(f"station: {exc}") from None
    if tx is None:
        where = f" on station {station}" if station else ""
        raise not_found(f"no transaction {transaction_id}{where}")
    return m.TransactionDetail.model_validate(tx)
