"""Delivering webhooks from the outbox in PostgreSQL.

Each subscription's deliveries are POSTed in order, one at a time, by the API process that
leases the subscription. A delivery counts as done on any 2xx answer; otherwise it is tried
again after 2, 4, 8, ... seconds (at most an hour apart, with jitter) until a day after the
event, then marked failed and the next one goes. The outbox row is written with the feed
event itself (:func:`csms.store.events_feed.emit`), and marked delivered only after the
receiver's 2xx, so every event is delivered at least once, even across a crash or restart of
the API process (a receiver de-duplicates on ``X-CSMS-Delivery``).

Body: ``{"id": feed id, "type": ..., "at": ..., "data": {...}}``; headers
``X-CSMS-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>``,
``X-CSMS-Delivery`` (the delivery id), ``X-CSMS-Event`` (the type).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import random
import socket
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import structlog

from csms import metrics
from csms.api.context import ApiSettings
from csms.api.stream import event_json
from csms.store import webhooks
from csms.store.webhooks import Leased, Outgoing

log = structlog.get_logger("csms.api.webhooks")

#: how long a delivery is retried, counted from the event
GIVE_UP_AFTER = timedelta(days=1)
FIRST_RETRY_S = 2.0
MAX_RETRY_S = 3600.0
#: seconds between looks for due deliveries (new events wake the deliverer at once)
POLL_S = 1.0


def signature(secret: str, body: bytes) -> str:
    """The X-CSMS-Signature header value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_delay(attempts: int) -> float:
    """Seconds before the next try, after ``attempts`` failed ones (1, 2, ...)."""
    base = min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** max(0, attempts - 1))
    return base * random.uniform(0.8, 1.2)


class Deliverer:
    """Leases due subscriptions and drains each one's outbox in order."""

    def __init__(self, pool: asyncpg.Pool, settings: ApiSettings) -> None:
        self.pool = pool
        self.settings = settings
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.wake = asyncio.Event()
        self._busy: dict[int, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        """Start delivering (returns at once)."""
        # a receiver gets at most half the lease to answer, so the lease never runs out
        # while this process still waits for an answer (another would deliver meanwhile)
        timeout = min(self.settings.delivery_timeout_s, self.settings.lease_s / 2)
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._task = asyncio.create_task(self._run(), name="webhook-deliverer")

    async def stop(self) -> None:
        """Stop; subscriptions being delivered are released for the next process."""
        tasks = [t for t in (self._task, *self._busy.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await webhooks.release_all(self.pool, self.holder)
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        while True:
            try:
                metrics.WEBHOOK_BACKLOG.set(await webhooks.backlog(self.pool))
                while len(self._busy) < self.settings.delivery_concurrency:
                    leased = await webhooks.lease_due(self.pool, self.holder,
                                                      self.settings.lease_s,
                                                      skip=list(self._busy))
                    if leased is None:
                        break
                    task = asyncio.create_task(self._drain(leased))
                    self._busy[leased.id] = task
                    task.add_done_callback(lambda _t, i=leased.id: self._busy.pop(i, None))
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("webhooks.database_unavailable", error=str(exc))
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), POLL_S)

    async def _drain(self, hook: Leased) -> None:
        try:
            while True:
                outgoing = await webhooks.head(self.pool, hook.id, self.holder,
                                               self.settings.lease_s)
                if outgoing is None or not await self._deliver(hook, outgoing):
                    return
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("webhooks.database_unavailable", error=str(exc))
        finally:
            with contextlib.suppress(Exception):
                await webhooks.release(self.pool, hook.id, self.holder)

    async def _deliver(self, hook: Leased, outgoing: Outgoing) -> bool:
        """One attempt; True when the next delivery may go (this one is closed)."""
        assert self._client is not None
        body = event_json(outgoing.event)
        headers = {"Content-Type": "application/json", "User-Agent": "v2g-csms-webhooks/1",
                   "X-CSMS-Signature": signature(hook.secret, body),
                   "X-CSMS-Delivery": str(outgoing.id), "X-CSMS-Event": outgoing.event.type}
        status: int | None = None
        try:
            answer = await self._client.post(hook.url, content=body, headers=headers)
            status = answer.status_code
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if error is None:
            await webhooks.finish(self.pool, outgoing.id, "delivered", status, None)
            metrics.WEBHOOK_ATTEMPTS.labels("delivered").inc()
            return True
        if datetime.now(UTC) - outgoing.created_at >= GIVE_UP_AFTER:
            await webhooks.finish(self.pool, outgoing.id, "failed", status, error)
            metrics.WEBHOOK_ATTEMPTS.labels("failed").inc()
            log.warning("webhooks.given_up", webhook_id=hook.id, delivery_id=outgoing.id,
                        error=error)
            return True
        await webhooks.retry_later(self.pool, outgoing.id, retry_delay(outgoing.attempts + 1),
                                   status, error[:500])
        metrics.WEBHOOK_ATTEMPTS.labels("retry").inc()
        return False
