"""``/dashboard/stream``: the API's live stream (:mod:`csms.api.stream`, the same feed hub and
frames as ``GET /v1/stream``) for a browser holding a dashboard session instead of a bearer
key (an EventSource cannot send one)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from csms.api.dashboard.access import PREFIX, viewer
from csms.api.errors import ApiError
from csms.api.stream import FeedHub, feed_frames, parse_types

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/stream")
async def stream(
    request: Request,
    types: Annotated[str | None, Query(max_length=500)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    """Feed events and the live telemetry named in ``types``, as server-sent events."""
    if await viewer(request) is None:
        raise ApiError(401, "unauthorized", "log in to the dashboard first")
    wanted = parse_types(types)
    after = None
    if last_event_id and last_event_id.strip().isdigit():
        after = min(int(last_event_id), 2**63 - 1)
    hub: FeedHub = request.app.state.api.feed
    return StreamingResponse(feed_frames(hub, wanted, after), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
