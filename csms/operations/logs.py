"""Log retrieval (N01): GetLog with an upload URL on the CSMS's own HTTP endpoint (or a
location the operator names), and the upload followed through LogStatusNotification to the
stored file."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from csms.operations.answers import answer_of
from csms.operations.client import DEFAULT_TIMEOUT, Operations
from csms.operations.outcome import Outcome, Status, refused
from csms.operations.request_fields import add_retries, iso_seconds
from csms.store import commands, logs
from csms.store.logs import LogRequest

ACTION = "GetLog"
#: GetLog answers that mean the station will upload (AcceptedCanceled: and cancels the
#: upload it had under way).
ACCEPTED = ("Accepted", "AcceptedCanceled")
#: LogStatusNotification statuses that end an upload.
FINAL = frozenset({"Uploaded", "UploadFailure", "BadMessage", "NotSupportedOperation",
                   "PermissionDenied", "AcceptedCanceled"})
#: Path of upload URLs on a node's endpoint: ``<base URL>/logs/<token>``.
UPLOAD_PATH = "/logs/"


@dataclass(frozen=True)
class LogQuery:
    """Which log and which span of it."""

    log_type: str = "DiagnosticsLog"
    oldest: datetime | None = None
    latest: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None


@dataclass(frozen=True)
class LogResult:
    """How a GetLog ended: its requestId and upload location (None when nothing was sent),
    the call's outcome and the filename the station announced."""

    outcome: Outcome
    request_id: int | None = None
    location: str | None = None
    filename: str | None = None


def upload_url(base_url: str, token: str) -> str:
    """The URL a station uploads one log to."""
    return base_url.rstrip("/") + UPLOAD_PATH + token


def _payload(query: LogQuery, request_id: int, location: str) -> dict[str, Any]:
    log: dict[str, Any] = {"remoteLocation": location}
    if query.oldest is not None:
        log["oldestTimestamp"] = iso_seconds(query.oldest)
    if query.latest is not None:
        log["latestTimestamp"] = iso_seconds(query.latest)
    return add_retries({"logType": query.log_type, "requestId": request_id, "log": log},
                       query.retries, query.retry_interval)


async def get_log(ops: Operations, station_id: str, query: LogQuery, *,
                  location: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                  queue_for: timedelta | None = None) -> LogResult:
    """Ask a station to upload a log (GetLog). Without ``location`` the upload goes to the
    CSMS: the endpoint of the node holding the station (else of any running node), under a
    URL of its own that only this request can use."""
    pool = ops.pool
    known, _ = await ops.station_version(station_id)
    if not known:
        return LogResult(refused(Status.UNKNOWN_STATION,
                                 f"no station {station_id} is registered"))
    request_id = await logs.next_request_id(pool)
    token = None
    if location is None:
        endpoint = await logs.endpoint_for(pool, station_id)
        if endpoint is None:
            return LogResult(refused(Status.INVALID, "no running CSMS node accepts log uploads:"
                                     " start one (csms serve), or give the upload location"))
        token = secrets.token_urlsafe(24)
        location = upload_url(endpoint.base_url, token)
    payload = _payload(query, request_id, location)
    checked = await ops.check(station_id, ACTION, payload)
    if isinstance(checked, Outcome):
        return LogResult(checked)
    if queue_for is None and not await commands.station_online(pool, station_id):
        return LogResult(refused(Status.OFFLINE, f"station {station_id} is not connected",
                                 payload))
    await logs.add_request(pool, station_id, request_id, query.log_type, location,
                           upload_token=token, oldest_at=query.oldest, latest_at=query.latest)
    ids = await ops.submit(station_id, ACTION, payload, queue_for=queue_for)
    if isinstance(ids, Outcome):
        outcome = ids
    else:
        await logs.set_command(pool, station_id, request_id, ids[0])
        outcome = await ops.wait(ACTION, payload, ids, timeout=timeout, accept=ACCEPTED)
    filename = (outcome.response or {}).get("filename")
    await logs.record_answer(pool, station_id, request_id, answer_of(outcome), outcome.reason,
                             filename)
    return LogResult(outcome, request_id, location, filename)


async def wait_for_upload(pool: asyncpg.Pool, station_id: str, request_id: int,
                          timeout: float, *, poll_s: float = 0.2) -> LogRequest | None:
    """The request once its upload has ended (a final LogStatusNotification, and for
    Uploaded the file, when it came to the CSMS), or as it stands after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = await logs.list_requests(pool, station_id=station_id, request_id=request_id)
        request = found[0] if found else None
        if request is None:
            return None
        done = request.status in FINAL and (
            request.status != "Uploaded" or request.files or not request.to_csms)
        if done or loop.time() >= deadline:
            return request
        await asyncio.sleep(poll_s)


async def log_requests(pool: asyncpg.Pool, *, station_id: str | None = None,
                       limit: int = 100) -> list[LogRequest]:
    """The most recent GetLog requests with their status and files; answers that arrived
    after their sender stopped waiting are settled first."""
    await logs.settle_answers(pool)
    return await logs.list_requests(pool, station_id=station_id, limit=limit)
