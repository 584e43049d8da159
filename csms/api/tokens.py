"""``/v1/tokens``: the ID tokens the CSMS authorizes (as ``csms tokens``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import Field

from csms.api.auth import Scope, needs
from csms.api.context import Ctx
from csms.api.errors import not_found, responses
from csms.api.models import Model, Page
from csms.api.pagination import Cursor, Limit, decode, encode
from csms.store import tokens
from csms.store.tokens import TOKEN_STATUSES

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])

Status = Literal[TOKEN_STATUSES]  # type: ignore[valid-type]
#: IdTokenType.idToken is at most 255 characters in 2.1 (36 in 2.0.1), its type at most 20
TokenText = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")]
TypeText = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[^\x00-\x1f\x7f]+$")]


class Token(Model):
    """A stored ID token."""

    id_token: str
    token_type: str
    status: str
    group_id_token: str | None
    group_token_type: str | None
    expires_at: datetime | None
    language: str | None
    created_at: datetime


class TokenSave(Model):
    """A token to add, or the new status, group and expiry of a stored one (same value in any
    case, same type)."""

    id_token: TokenText
    token_type: TypeText = "ISO14443"
    status: Status = "Accepted"  # type: ignore[valid-type]
    group_id_token: TokenText | None = None
    group_token_type: TypeText | None = None
    expires_at: datetime | None = None
    language: str | None = Field(default=None, max_length=8)


@router.get("", response_model=Page[Token], dependencies=[needs(Scope.READ)],
            responses=responses(401, 403, 422))
async def list_tokens(ctx: Ctx, limit: Limit = 100, cursor: Cursor = None) -> Page[Token]:
    """The tokens, by value and type."""
    after = tuple(decode(cursor, str, str)) if cursor else None
    found = [t for t in await tokens.list_tokens(ctx.pool)
             if after is None or (t.id_token, t.token_type) > after]
    page = found[:limit]
    return Page[Token](items=[Token.model_validate(t) for t in page],
                       next_cursor=encode(page[-1].id_token, page[-1].token_type)
                       if len(found) > limit else None)


@router.put("", response_model=Token, dependencies=[needs(Scope.ADMIN)],
            responses=responses(401, 403, 422))
async def save_token(ctx: Ctx, body: TokenSave) -> Token:
    """Add a token, or replace the status, group and expiry of the stored one."""
    record = await tokens.add_token(
        ctx.pool, body.id_token, body.token_type, status=body.status,
        group_id_token=body.group_id_token, group_token_type=body.group_token_type,
        expires_at=body.expires_at, language=body.language)
    return Token.model_validate(record)


@router.delete("/{id_token}", status_code=204, dependencies=[needs(Scope.ADMIN)],
               responses=responses(401, 403, 404, 422))
async def delete_token(
    ctx: Ctx, id_token: Annotated[str, Path(min_length=1, max_length=255)],
    token_type: Annotated[str | None, Query(max_length=20, description=(
        "Only this type (default: every type)."))] = None,
) -> Response:
    """Remove a token (of one type, or of every type)."""
    if not await tokens.remove_token(ctx.pool, id_token, token_type):
        raise not_found(f"no token {id_token}")
    return Response(status_code=204)
