"""Webhook subscriptions and their outbox (filled by :func:`csms.store.events_feed.emit`).

Each subscription's deliveries go out in id order: a pending delivery holds back the later
ones. The API process delivering a subscription holds a lease on it (renewed with every
attempt), so two API processes never deliver one subscription at once, and a process that
died hands its subscriptions on when its leases run out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.store.db import Db
from csms.store.events_feed import FeedEvent, decode_data

_HOOK = "id, url, types, description, created_at"
_DELIVERY = ("d.id, d.webhook_id, d.event_id, f.type AS event_type, d.status, d.attempts,"
             " d.created_at, d.next_attempt_at, d.delivered_at, d.last_status, d.last_error")


@dataclass(frozen=True)
class Webhook:
    """A subscription: where to POST which feed event types (its secret is never read back)."""

    id: int
    url: str
    types: list[str]
    description: str | None
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    """One feed event for one subscription, and how its delivery went so far."""

    id: int
    webhook_id: int
    event_id: int
    event_type: str | None
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_status: int | None
    last_error: str | None


@dataclass(frozen=True)
class Leased:
    """A subscription leased for delivering: where to, and the secret to sign with."""

    id: int
    url: str
    secret: str


@dataclass(frozen=True)
class Outgoing:
    """A pending delivery with its feed event."""

    id: int
    attempts: int
    created_at: datetime
    event: FeedEvent


def _hook(row: Any) -> Webhook:
    return Webhook(row[0], row[1], list(row[2]), row[3], row[4])


async def add_webhook(db: Db, url: str, types: Sequence[str], secret: str,
                      description: str | None = None) -> Webhook:
    """Subscribe ``url`` to ``types``; deliveries start with the next matching event."""
    row = await db.fetchrow(
        f"INSERT INTO webhooks (url, types, secret, description) VALUES ($1, $2, $3, $4)"
        f" RETURNING {_HOOK}", url, list(types), secret, description)
    return _hook(row)


async def list_webhooks(db: Db, *, after: int | None = None, limit: int = 100) -> list[Webhook]:
    """Subscriptions by id, after the id ``after``."""
    rows = await db.fetch(f"SELECT {_HOOK} FROM webhooks WHERE id > $1 ORDER BY id LIMIT $2",
                          after or 0, limit)
    return [_hook(r) for r in rows]


async def get_webhook(db: Db, webhook_id: int) -> Webhook | None:
    """One subscription, or None."""
    row = await db.fetchrow(f"SELECT {_HOOK} FROM webhooks WHERE id = $1", webhook_id)
    return None if row is None else _hook(row)


async def delete_webhook(db: Db, webhook_id: int) -> bool:
    """Remove a subscription and its outbox; False if there was none."""
    return await db.execute("DELETE FROM webhooks WHERE id = $1", webhook_id) != "DELETE 0"


async def list_deliveries(db: Db, webhook_id: int, *, before: int | None = None,
                          limit: int = 100) -> list[Delivery]:
    """A subscription's deliveries, newest first, before the id ``before``."""
    rows = await db.fetch(
        f"SELECT {_DELIVERY} FROM webhook_deliveries d LEFT JOIN feed_events f"
        f" ON f.id = d.event_id WHERE d.webhook_id = $1 AND ($2::bigint IS NULL OR d.id < $2)"
        f" ORDER BY d.id DESC LIMIT $3", webhook_id, before, limit)
    return [Delivery(**dict(r)) for r in rows]


async def backlog(db: Db) -> int:
    """How many deliveries are pending, over every subscription."""
    return int(await db.fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"))


async def lease_due(db: Db, holder: str, lease_s: float, *,
                    skip: Sequence[int] = ()) -> Leased | None:
    """Lease a subscription whose oldest pending delivery is due and that nobody holds (nor
    is in ``skip``); None when there is none."""
    row = await db.fetchrow(
        """
        UPDATE webhooks w SET lease_until = now() + make_interval(secs => $2), lease_holder = $1
         WHERE w.id = (
            SELECT h.id FROM webhooks h
             WHERE (h.lease_until IS NULL OR h.lease_until < now())
               AND h.id <> ALL($3::bigint[])
               AND (SELECT d.next_attempt_at FROM webhook_deliveries d
                     WHERE d.webhook_id = h.id AND d.status = 'pending'
                     ORDER BY d.id LIMIT 1) <= now()
             ORDER BY h.id LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING w.id, w.url, w.secret
        """, holder, lease_s, list(skip))
    return None if row is None else Leased(row[0], row[1], row[2])


async def release(db: Db, webhook_id: int, holder: str) -> None:
    """Give up the lease on a subscription (if still held by ``holder``)."""
    await db.execute("UPDATE webhooks SET lease_until = NULL, lease_holder = NULL"
                     " WHERE id = $1 AND lease_holder = $2", webhook_id, holder)


async def release_all(db: Db, holder: str) -> None:
    """Give up every lease ``holder`` has (it is stopping)."""
    await db.execute("UPDATE webhooks SET lease_until = NULL, lease_holder = NULL"
                     " WHERE lease_holder = $1", holder)


async def head(db: Db, webhook_id: int, holder: str, lease_s: float) -> Outgoing | None:
    """The oldest pending delivery of a subscription if it is due, with its event, renewing
    ``holder``'s lease; None when there is nothing due or the lease was lost."""
    row = await db.fetchrow(
        """
        WITH lease AS (
            UPDATE webhooks SET lease_until = now() + make_interval(secs => $3)
             WHERE id = $1 AND lease_holder = $2 RETURNING id
        )
        SELECT d.id, d.attempts, d.created_at, d.next_attempt_at <= now(), f.id, f.type, f.data,
               f.at
          FROM lease JOIN webhook_deliveries d ON d.webhook_id = lease.id
          LEFT JOIN feed_events f ON f.id = d.event_id
         WHERE d.status = 'pending' ORDER BY d.id LIMIT 1
        """, webhook_id, holder, lease_s)
    if row is None or not row[3]:
        return None
    if row[4] is None:  # its feed event was pruned: nothing left to send
        await finish(db, row[0], "failed", None, "the event is no longer kept")
        return await head(db, webhook_id, holder, lease_s)
    return Outgoing(row[0], row[1], row[2], FeedEvent(row[4], row[5], decode_data(row[6]), row[7]))


async def finish(db: Db, delivery_id: int, status: str, http_status: int | None,
                 error: str | None) -> None:
    """Close a delivery: ``delivered`` or ``failed`` (given up)."""
    await db.execute(
        "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1,"
        " delivered_at = CASE WHEN $2 = 'delivered' THEN now() END, last_status = $3,"
        " last_error = $4 WHERE id = $1", delivery_id, status, http_status, error)


async def retry_later(db: Db, delivery_id: int, delay_s: float, http_status: int | None,
                      error: str) -> None:
    """Record a failed attempt; the delivery is tried again after ``delay_s``."""
    await db.execute(
        "UPDATE webhook_deliveries SET attempts = attempts + 1,"
        " next_attempt_at = now() + make_interval(secs => $2), last_status = $3,"
        " last_error = $4 WHERE id = $1", delivery_id, delay_s, http_status, error)
