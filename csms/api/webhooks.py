"""``/v1/webhooks``: subscriptions to the feed, delivered signed from a durable outbox
(:mod:`csms.api.outbox`). Admin keys only: a subscription says where data goes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from csms.api import models as m
from csms.api.auth import Scope, needs
from csms.api.context import Ctx
from csms.api.errors import not_found, responses
from csms.api.pagination import Cursor, Limit, decode, encode
from csms.api.stream import parse_types
from csms.store import webhooks

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"],
                   dependencies=[needs(Scope.ADMIN)])

WebhookId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post("", status_code=201, response_model=m.Webhook,
             responses=responses(401, 403, 422))
async def create_webhook(ctx: Ctx, body: m.WebhookCreate, response: Response) -> m.Webhook:
    """Subscribe a URL to event types; every matching event from now on is POSTed to it,
    signed with the secret."""
    types = parse_types(",".join(body.types)) or frozenset()
    hook = await webhooks.add_webhook(ctx.pool, body.url, sorted(types), body.secret,
                                      body.description)
    response.headers["Location"] = f"/v1/webhooks/{hook.id}"
    return m.Webhook.model_validate(hook)


@router.get("", response_model=m.Page[m.Webhook], responses=responses(401, 403, 422))
async def list_webhooks(ctx: Ctx, limit: Limit = 100, cursor: Cursor = None
                        ) -> m.Page[m.Webhook]:
    """The subscriptions, oldest first."""
    after = decode(cursor, int)[0] if cursor else None
    found = await webhooks.list_webhooks(ctx.pool, after=after, limit=limit + 1)
    page = found[:limit]
    return m.Page[m.Webhook](items=[m.Webhook.model_validate(h) for h in page],
                             next_cursor=encode(page[-1].id) if len(found) > limit else None)


@router.get("/{webhook_id}", response_model=m.Webhook, responses=responses(401, 403, 404, 422))
async def get_webhook(ctx: Ctx, webhook_id: WebhookId) -> m.Webhook:
    """One subscription."""
    hook = await webhooks.get_webhook(ctx.pool, webhook_id)
    if hook is None:
        raise not_found(f"no webhook {webhook_id}")
    return m.Webhook.model_validate(hook)


@router.delete("/{webhook_id}", status_code=204, responses=responses(401, 403, 404, 422))
async def delete_webhook(ctx: Ctx, webhook_id: WebhookId) -> Response:
    """Unsubscribe; deliveries not made yet are dropped."""
    if not await webhooks.delete_webhook(ctx.pool, webhook_id):
        raise not_found(f"no webhook {webhook_id}")
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=m.Page[m.Delivery],
            responses=responses(401, 403, 404, 422))
async def list_deliveries(ctx: Ctx, webhook_id: WebhookId, limit: Limit = 100,
                          cursor: Cursor = None) -> m.Page[m.Delivery]:
    """A subscription's deliveries, newest first: pending, delivered or failed, with the
    last attempt's HTTP status or error."""
    if await webhooks.get_webhook(ctx.pool, webhook_id) is None:
        raise not_found(f"no webhook {webhook_id}")
    before = decode(cursor, int)[0] if cursor else None
    found = await webhooks.list_deliveries(ctx.pool, webhook_id, before=before,
                                           limit=limit + 1)
    page = found[:limit]
    return m.Page[m.Delivery](items=[m.Delivery.model_validate(d) for d in page],
                              next_cursor=encode(page[-1].id) if len(found) > limit else None)
