"""``/v1/api-keys``: make, list and revoke API keys over the API (admin keys only); the same
as ``csms api-keys``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from csms.api import models as m
from csms.api.auth import Scope, hash_key, needs, new_key, shown_prefix
from csms.api.context import Ctx
from csms.api.errors import not_found, responses
from csms.store import api_keys

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"], dependencies=[needs(Scope.ADMIN)])


@router.post("", status_code=201, response_model=m.ApiKeyCreated,
             responses=responses(401, 403, 422))
async def create_key(ctx: Ctx, body: m.ApiKeyCreate) -> m.ApiKeyCreated:
    """Make a key; the answer holds the key itself, this once."""
    key = new_key()
    record = await api_keys.add_key(ctx.pool, body.name, body.scope, shown_prefix(key),
                                    hash_key(key))
    return m.ApiKeyCreated(**m.ApiKeyInfo.model_validate(record).model_dump(), key=key)


@router.get("", response_model=list[m.ApiKeyInfo], responses=responses(401, 403))
async def list_keys(ctx: Ctx) -> list[m.ApiKeyInfo]:
    """Every key (never the keys themselves), revoked ones included."""
    return [m.ApiKeyInfo.model_validate(k) for k in await api_keys.list_keys(ctx.pool)]


@router.delete("/{key_id}", status_code=204, responses=responses(401, 403, 404, 422))
async def revoke_key(ctx: Ctx, key_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> Response:
    """Revoke a key (within seconds on every API process)."""
    if await api_keys.revoke_key(ctx.pool, key_id) is None:
        raise not_found(f"no API key {key_id}")
    return Response(status_code=204)
