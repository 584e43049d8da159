"""``GET /v1/stream``: the feed (station.connected, transaction.ended, event.step, ...) as
server-sent events, pushed as they happen.

One :class:`FeedHub` per API process LISTENs on ``csms_feed`` and reads each new feed event
once, by id, for all of the process's streams; a missed notification (the listener
reconnecting) is caught by a look every few seconds. A client that reconnects with
``Last-Event-ID`` (or ``?after=``) first gets what it missed, from the feed table (kept a
week). A client too slow to keep up is disconnected (it resumes with Last-Event-ID).

Live telemetry (``meter.sampled``, ``evse.status``: :mod:`csms.store.live`) comes on the same
stream to a client that names it in ``?types=``: it is announced on a channel of its own, never
stored in the feed, so it has no id, is not replayed and is not sent to a stream that did not
ask for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

import asyncpg
import orjson
import structlog
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from csms import metrics
from csms.api.auth import Scope, needs
from csms.api.errors import invalid, responses
from csms.store import events_feed
from csms.store.events_feed import FEED_CHANNEL, FeedEvent, FeedType
from csms.store.live import (
    INTEREST_S,
    LIVE_CHANNEL,
    LiveType,
    declare_interest,
    withdraw_interest,
)

log = structlog.get_logger("csms.api.stream")

router = APIRouter(tags=["stream"])

#: events a stream may fall behind by before it is dropped
QUEUE_SIZE = 10_000
#: seconds between keep-alive comments on an idle stream
KEEPALIVE_S = 15.0
#: seconds between looks at the feed table without a notification
POLL_S = 5.0
#: seconds a hole in the feed ids is waited for (a transaction still committing)
HOLE_S = 10.0


#: every type a stream may ask for: the feed's, then live telemetry's (only when asked for)
STREAM_TYPES = (*(t.value for t in FeedType), *(t.value for t in LiveType))
_LIVE_TYPES = frozenset(t.value for t in LiveType)


def event_json(event: FeedEvent) -> bytes:
    """The JSON of a feed event, as streamed and as POSTed to webhooks."""
    return orjson.dumps({"id": event.id, "type": event.type, "at": event.at,
                         "data": event.data})


@dataclass(frozen=True)
class LiveEvent:
    """Live telemetry as announced (no feed id: it is not stored)."""

    type: str
    payload: bytes


@dataclass(eq=False)
class Subscriber:
    """One open stream: the types it wants and the events waiting for it."""

    types: frozenset[str] | None
    queue: asyncio.Queue[FeedEvent | LiveEvent | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE))

    def offer(self, event: FeedEvent | LiveEvent) -> bool:
        """Queue the event if wanted; False when the subscriber cannot keep up."""
        if self.types is None:
            if isinstance(event, LiveEvent):
                return True
        elif event.type not in self.types:
            return True
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            return False
        return True


class FeedHub:
    """Reads the feed for the whole process and hands each event to the streams."""

    def __init__(self, pool: asyncpg.Pool, database_url: str) -> None:
        self.pool = pool
        self.database_url = database_url
        #: every feed event up to this id has been handed out (or given up as never coming)
        self.last_id = 0
        #: ids above ``last_id`` handed out already, and when each hole below them was seen
        self._seen: set[int] = set()
        self._holes: dict[int, float] = {}
        self.subscribers: set[Subscriber] = set()
        #: also set on every notification (the webhook deliverer waits on one)
        self.wakers: list[asyncio.Event] = []
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        #: this process's name in ``live_interest`` (csms.store.live), and whether it is there
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._interested = False
        self._interest_wake = asyncio.Event()
        self._interest_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen, and start handing out events from the newest on."""
        self.last_id = await events_feed.last_event_id(self.pool)
        await self._listen()
        self._task = asyncio.create_task(self._pump(), name="feed-hub")
        self._interest_task = asyncio.create_task(self._keep_interest(), name="live-interest")

    async def stop(self) -> None:
        """Stop; open streams end."""
        for task in (self._task, self._interest_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._interested:
            with contextlib.suppress(Exception):
                await withdraw_interest(self.pool, self.holder)
        for subscriber in list(self.subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                subscriber.queue.put_nowait(None)
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()

    async def _listen(self) -> None:
        self._listener = await asyncpg.connect(self.database_url)
        await self._listener.add_listener(FEED_CHANNEL, lambda *_: self._notified())
        await self._listener.add_listener(LIVE_CHANNEL, self._live)

    def _live(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        """Hand live telemetry to the streams that asked for its type."""
        try:
            kind = orjson.loads(payload)["type"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return
        if kind not in _LIVE_TYPES:
            return
        event = LiveEvent(kind, payload.encode())
        for subscriber in list(self.subscribers):
            if not subscriber.offer(event):
                self.drop(subscriber)

    def _notified(self) -> None:
        self._wake.set()
        for waker in self.wakers:
            waker.set()

    async def _pump(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_S)
            self._wake.clear()
            if self._holes:
                await asyncio.sleep(0.05)  # while a hole is open, look every 50 ms at most
            try:
                if self._listener is None or self._listener.is_closed():
                    await self._listen()
                await self._hand_out()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("api.feed_unavailable", error=str(exc))
                await asyncio.sleep(1.0)

    async def _hand_out(self) -> None:
        """Hand out the feed events not handed out yet.

        Ids are taken when a row is inserted but become visible at commit, so a smaller id
        can appear after a larger one: ids above a hole are remembered and the hole is looked
        at again until it fills, or for :data:`HOLE_S` (a rolled-back insert never fills it).
        """
        while True:
            events = await events_feed.events_after(self.pool, self.last_id)
            for event in events:
                if event.id in self._seen:
                    continue
                self._seen.add(event.id)
                for subscriber in list(self.subscribers):
                    if not subscriber.offer(event):
                        self.drop(subscriber)
            self._advance()
            if len(events) < 1000:
                return

    def _advance(self) -> None:
        now = asyncio.get_running_loop().time()
        while self._seen:
            following = self.last_id + 1
            if following in self._seen:
                self._seen.discard(following)
                self._holes.pop(following, None)
                self.last_id = following
            elif now - self._holes.setdefault(following, now) > HOLE_S:
                self._holes.pop(following)
                self.last_id = following
            else:
                self._wake.set()  # look again soon: the hole may fill
                return

    def subscribe(self, types: frozenset[str] | None) -> Subscriber:
        """A new stream's subscription (events from now on)."""
        subscriber = Subscriber(types)
        self.subscribers.add(subscriber)
        metrics.STREAMS_OPEN.inc()
        if types is not None and types & _LIVE_TYPES and not self._interested:
            self._interest_wake.set()  # the nodes start announcing within seconds
        return subscriber

    def _wants_live(self) -> bool:
        return any(s.types is not None and s.types & _LIVE_TYPES for s in self.subscribers)

    async def _keep_interest(self) -> None:
        """Keep this process's row in ``live_interest`` while a stream wants live telemetry
        (renewed every third of its lifetime), and take it away when none does."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._interest_wake.wait(), INTEREST_S / 3)
            self._interest_wake.clear()
            try:
                if self._wants_live():
                    await declare_interest(self.pool, self.holder)
                    self._interested = True
                elif self._interested:
                    await withdraw_interest(self.pool, self.holder)
                    self._interested = False
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("api.live_interest_unavailable", error=str(exc))

    def drop(self, subscriber: Subscriber) -> None:
        """End a subscription (its stream closes)."""
        self.subscribers.discard(subscriber)
        with contextlib.suppress(asyncio.QueueFull):
            subscriber.queue.put_nowait(None)


def parse_types(types: str | None) -> frozenset[str] | None:
    """``?types=a,b`` as a set (None: every type); a 422 for an unknown type."""
    if not types:
        return None
    wanted = frozenset(t.strip() for t in types.split(",") if t.strip())
    unknown = sorted(wanted - set(STREAM_TYPES))
    if unknown:
        raise invalid(f"types: unknown event type {', '.join(unknown)}; known: "
                      + ", ".join(STREAM_TYPES))
    return wanted or None


def _frame(event: FeedEvent | LiveEvent) -> bytes:
    if isinstance(event, LiveEvent):  # no id: a reconnecting client resumes the feed only
        return b"event: %s\ndata: %s\n\n" % (event.type.encode(), event.payload)
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event.id, event.type.encode(),
                                                  event_json(event))


async def feed_frames(hub: FeedHub, types: frozenset[str] | None, after: int | None
                      ) -> AsyncIterator[bytes]:
    """The server-sent event frames of one stream (see the module doc): what was missed
    after feed id ``after`` first, then what happens, with keep-alive comments."""
    subscriber = hub.subscribe(types)
    try:
        yield b"retry: 2000\n\n"
        replayed: set[int] = set()
        if after is not None:
            sent = after
            while True:  # what was missed, from the table; live events queue meanwhile
                missed = await events_feed.events_after(hub.pool, sent)
                for event in missed:
                    sent = event.id
                    replayed.add(event.id)
                    if subscriber.types is None or event.type in subscriber.types:
                        yield _frame(event)
                if len(missed) < 1000:
                    break
        while True:
            try:
                event = await asyncio.wait_for(subscriber.queue.get(), KEEPALIVE_S)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if event is None:
                return
            if isinstance(event, LiveEvent) or event.id not in replayed:
                yield _frame(event)
    finally:
        hub.subscribers.discard(subscriber)
        metrics.STREAMS_OPEN.dec()


@router.get(
    "/v1/stream", dependencies=[needs(Scope.READ)],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                     "description": "Server-sent events: `id` (the feed id), `event` (the "
                     "type) and `data` (JSON: id, type, at, data)."},
               **responses(401, 403, 422)})
async def stream(
    request: Request,
    types: Annotated[str | None, Query(max_length=500, description=(
        "Comma-separated event types (default: all of the feed's): "
        + ", ".join(STREAM_TYPES) + ". Live telemetry (meter.sampled, evse.status) only "
        "when named; it has no id and is not replayed."))] = None,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1, description=(
        "Replay the events after this feed id first (as the Last-Event-ID header)."))] = None,
    last_event_id: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> StreamingResponse:
    """Feed events as server-sent events, pushed as they happen."""
    wanted = parse_types(types)
    if after is None and last_event_id and last_event_id.strip().isdigit():
        after = min(int(last_event_id), 2**63 - 1)
    hub: FeedHub = request.app.state.api.feed
    return StreamingResponse(feed_frames(hub, wanted, after), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
