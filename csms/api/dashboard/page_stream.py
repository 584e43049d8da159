"""``/dashboard/stream``: the API's live stream (:mod:`csms.api.stream`, the same feed hub and
frames as ``GET /v1/stream``) for a browser holding a dashboard session instead of a bearer
key (an EventSource cannot send one)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from csms.api.dashboard.access import PREFIX, viewer
from csms.api.errors import ApiError
from csms.api.stream import FeedHub, feed_frames, parse_types

router = APIRouter(prefix=PREFIX, include_in_schema=False)


async def _until(frames: AsyncIterator[bytes], expires: int) -> AsyncIterator[bytes]:
    """The frames until the credential expires (checked at each frame and keep-alive); the
    browser's reconnection then meets a 401, and the page says it is no longer live."""
    try:
        async for frame in frames:
            if time.time() >= expires:
                return
            yield frame
    finally:
        await frames.aclose()  # type: ignore[attr-defined]


@router.get("/stream")
async def stream(
    request: Request,
    types: Annotated[str | None, Query(max_length=500)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    """Feed events and the live telemetry named in ``types``, as server-sent events."""
    grant = await viewer(request)
    if grant is None:
        raise ApiError(401, "unauthorized", "log in to the dashboard first")
    wanted = parse_types(types)
    after = None
    if last_event_id and last_event_id.strip().isdigit():
        after = min(int(last_event_id), 2**63 - 1)
    hub: FeedHub = request.app.state.api.feed
    return StreamingResponse(_until(feed_frames(hub, wanted, after), grant.expires),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
