"""``POST /v1/stations/{id}/calls`` (any CSMS-initiated OCPP call) and ``GET
/v1/commands/{id}``, through the operations client like ``csms call``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from csms import metrics
from csms.api import models as m
from csms.api.auth import Scope, needs
from csms.api.context import Ctx
from csms.api.errors import ApiError, invalid, not_found, responses
from csms.api.stations import StationPath
from csms.operations.outcome import Outcome, Status
from csms.store import listing

router = APIRouter(tags=["calls"])

#: how long the API follows a call submitted without ?wait (it ends as offline when no node
#: claims it within the operations client's grace)
BACKGROUND_WAIT_S = 60.0

#: How each outcome that is not an answer is told: HTTP status and error code.
_FAILURES: dict[Status, tuple[int, str]] = {
    Status.UNKNOWN_STATION: (404, "not_found"),
    Status.INVALID: (422, "invalid_request"),
    Status.OFFLINE: (409, "station_offline"),
    Status.EXPIRED: (409, "expired"),
    Status.CALLERROR: (502, "station_call_error"),
    Status.DISCONNECTED: (502, "station_disconnected"),
    Status.TIMEOUT: (504, "station_timeout"),
}


def outcome_error(outcome: Outcome, station_id: str) -> ApiError:
    """The error of an outcome that is not an answer."""
    status, code = _FAILURES[outcome.status]
    message = outcome.reason or outcome.status.value
    if outcome.status is Status.OFFLINE:
        message = (f"station {station_id} is not connected (give ?queue_for=SECONDS to send "
                   "the call when it reconnects)")
    elif outcome.status is Status.CALLERROR:
        message = f"station {station_id} answered with CALLERROR {outcome.error_code}" + (
            f": {outcome.reason}" if outcome.reason else "")
    elif outcome.status is Status.TIMEOUT:
        message = (f"station {station_id} did not answer in time (the command may still be "
                   "answered: GET /v1/commands/{id})")
    details: dict[str, Any] = {}
    if outcome.command_ids:
        details["command_ids"] = list(outcome.command_ids)
    if outcome.error_code:
        details["error_code"] = outcome.error_code
    return ApiError(status, code, message, details or None)


def _password_change(action: str, payload: dict[str, Any]) -> bool:
    """A SetVariables of the station's Basic auth password: the CSMS would not know the new
    password and would lock the station out (``csms stations set-password`` does it)."""
    return action == "SetVariables" and any(
        (item.get("component", {}).get("name"), item.get("variable", {}).get("name"))
        == ("SecurityCtrlr", "BasicAuthPassword")
        for item in payload.get("setVariableData", []) if isinstance(item, dict))


def _submitted(ids: list[int], status: str) -> JSONResponse:
    body = m.CallSubmitted(command_id=ids[0], command_ids=ids, status=status)  # type: ignore[arg-type]
    return JSONResponse(body.model_dump(), status_code=202,
                        headers={"Location": f"/v1/commands/{ids[0]}"})


@router.post(
    "/v1/stations/{station_id}/calls", response_model=m.CallOutcome,
    dependencies=[needs(Scope.OPERATE)],
    responses={202: {"model": m.CallSubmitted, "description": "Submitted (no ?wait), or "
                     "still queued for the offline station after ?wait"},
               **responses(401, 403, 404, 409, 422, 502, 504)})
async def call(
    ctx: Ctx, station_id: StationPath, body: m.CallRequest,
    wait: Annotated[float | None, Query(gt=0, le=300, description=(
        "Wait up to this many seconds for the station's answer and return it; without it "
        "the call is submitted and 202 names the command."))] = None,
    queue_for: Annotated[float | None, Query(gt=0, le=7 * 86400, description=(
        "If the station is offline, keep the call this many seconds and send it when the "
        "station reconnects (otherwise an offline station is 409)."))] = None,
) -> Any:
    """Send any CSMS-initiated OCPP call; the payload is checked against the schema of the
    station's OCPP version (and split to its message limits) before it is sent."""
    if _password_change(body.action, body.payload):
        raise invalid("SecurityCtrlr.BasicAuthPassword: change a station's password with "
                      "'csms stations set-password', which keeps the CSMS's copy in step")
    ops = ctx.ops
    checked = await ops.check(station_id, body.action, body.payload)
    if isinstance(checked, Outcome):
        raise outcome_error(checked, station_id)
    queue = timedelta(seconds=queue_for) if queue_for is not None else None
    if wait is None:
        ids = await ops.submit(station_id, body.action, body.payload, queue_for=queue)
        if isinstance(ids, Outcome):
            raise outcome_error(ids, station_id)
        if queue is None:
            # someone must close a call that no node claims (the station went away meanwhile)
            # as offline, lest it be sent when the station comes back much later
            ctx.spawn(ops.wait(body.action, body.payload, ids, timeout=BACKGROUND_WAIT_S))
        return _submitted(ids, "pending")
    outcome = await ops.call(station_id, body.action, body.payload, timeout=wait,
                             queue_for=queue, checked=True)
    metrics.API_CALLS.labels(outcome.status.value).inc()
    if outcome.status is Status.QUEUED:
        return _submitted(list(outcome.command_ids), "queued")
    if not outcome.answered:
        raise outcome_error(outcome, station_id)
    return m.CallOutcome(status=outcome.status.value, station_status=outcome.station_status,
                         reason=outcome.reason, response=outcome.response,
                         command_ids=list(outcome.command_ids))


@router.get("/v1/commands/{command_id}", response_model=m.Command,
            dependencies=[needs(Scope.READ)], responses=responses(401, 403, 404, 422))
async def get_command(
    ctx: Ctx, command_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> m.Command:
    """A call as recorded: its status and, once answered, the station's response."""
    record = await listing.get_command(ctx.pool, command_id)
    if record is None:
        raise not_found(f"no command {command_id}")
    return m.Command.model_validate(record)
