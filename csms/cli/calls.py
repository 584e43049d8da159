"""Sending CSMS-initiated OCPP calls through the database, and the generic ``csms call``.

The CLI validates the payload against the schema of the station's negotiated OCPP version
(naming the command-line argument a bad field came from) and sends it through the operations
client (:mod:`csms.operations`), which splits it to the station's message limits, writes the
command rows and waits for the server process holding the station's socket to record the
answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from csms.cli.base import (
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    StationId,
    open_store,
    resolve_url,
    run,
)
from csms.cli.errors import CliError, ExitCode, not_found, shown, usage
from csms.cli.output import print_fields, print_json
from csms.cli.times import duration_option
from csms.ocppj import VERSIONS, OCPPError, get_validator, sent_by_csms
from csms.operations import Operations, Outcome, Status

DEFAULT_TIMEOUT = 30.0

TimeoutOption = Annotated[
    float,
    typer.Option("--timeout", min=0.1, max=86400, help="Seconds to wait for the station's answer."),
]
QueueForOption = Annotated[
    str | None,
    typer.Option(
        "--queue-for",
        metavar="DURATION",
        help="If the station is offline, queue the command for at most DURATION (e.g. 10m, 2h)"
        " and send it when the station reconnects. Exit status 10 when it is still queued"
        " after --timeout.",
        show_default=False,
    ),
]


@dataclass(frozen=True)
class Target:
    """Where and how a command is sent: the database, the station, the wait."""

    database_url: str | None
    data_dir: Path | None
    station_id: str
    timeout: float = DEFAULT_TIMEOUT
    queue_for: str | None = None



def validate(
    version: str, action: str, payload: Any, field_names: dict[str, str] | None = None
) -> None:
    """Raise a usage error naming the offending field unless ``payload`` is a valid request.

    ``field_names`` maps payload fields (dotted, without list indices) to the command-line
    arguments they came from, so the message names what the operator typed; the empty field
    name stands for every field no other entry names.
    """
    validator = get_validator(version)
    if not validator.is_known(action):
        raise usage(f"ACTION: {shown(action)} is not an OCPP {version} action")
    if not sent_by_csms(version, action):
        raise usage(f"ACTION: {action} is sent by charging stations, not by a CSMS")
    try:
        validator.validate_request(action, payload)
    except OCPPError as exc:
        field = re.sub(r"\[\d+\]", "", str(exc.details.get("field", "")))
        where = ""
        for prefix in sorted(field_names or {}, key=len, reverse=True):
            if not prefix or field == prefix or field.startswith(prefix + "."):
                where = f"{(field_names or {})[prefix]}: "
                break
        raise usage(
            f"{where}invalid {action} request for OCPP {version}: {exc.description}"
        ) from None


def parse_queue_for(queue_for: str | None) -> timedelta | None:
    """The ``--queue-for`` duration, or None when the command must not be queued."""
    if queue_for is None:
        return None
    duration = duration_option("--queue-for", queue_for)
    if duration <= timedelta(0):
        raise usage("--queue-for: must be longer than zero")
    return duration


def send(
    target: Target,
    action: str,
    payload: dict[str, Any],
    field_names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Validate and send one call to a station; return its response payload.

    Fails with NOT_FOUND for an unknown station, USAGE for an invalid payload or an action
    only stations send, OFFLINE when the station is not connected (and ``queue_for`` is not
    given), CALL_ERROR when the station answers a CALLERROR, DISCONNECTED when it drops the
    connection before answering, TIMEOUT when it does not answer in time. A queued command the
    station has not picked up within the timeout stays queued and ends the command with QUEUED
    (or EXPIRED once its queue time is over).
    """
    queue_for = parse_queue_for(target.queue_for)
    url = resolve_url(target.database_url, target.data_dir)

    async def go() -> dict[str, Any]:
        async with open_store(url) as db, Operations(db, url) as ops:
            known, version = await ops.station_version(target.station_id)
            if not known:
                raise not_found(f"unknown station {shown(target.station_id)}")
            # a station that never connected: valid in every version (Operations.check's rule)
            for candidate in (version,) if version else VERSIONS:
                validate(candidate, action, payload, field_names)
            refuse_password_change(action, payload)
            outcome = await ops.call(target.station_id, action, payload, timeout=target.timeout,
                                     queue_for=queue_for, checked=True)
        return _response(target, action, outcome)

    return run(go())


def refuse_password_change(action: str, payload: dict[str, Any]) -> None:
    """Refuse a SetVariables of the station's Basic auth password outside
    ``csms stations set-password``: the CSMS would not know the new password and would lock
    the station out."""
    if action != "SetVariables":
        return
    for item in payload.get("setVariableData", []):
        if (item.get("component", {}).get("name"), item.get("variable", {}).get("name")) == (
            "SecurityCtrlr", "BasicAuthPassword"
        ):
            raise usage("SecurityCtrlr.BasicAuthPassword: change a station's password with "
                        "csms stations set-password, which keeps the CSMS's copy in step")


def _offline(station_id: str) -> CliError:
    return CliError(
        f"station {station_id} is not connected"
        " (use --queue-for DURATION to send the command when it reconnects)",
        ExitCode.OFFLINE,
    )


def _response(target: Target, action: str, outcome: Outcome) -> dict[str, Any]:
    """The station's response, or the one-line error for an outcome without one."""
    station_id = target.station_id
    if outcome.answered:
        return dict(outcome.response or {})
    if outcome.status is Status.CALLERROR:
        description = f": {outcome.reason}" if outcome.reason else ""
        raise CliError(
            f"station {station_id} answered {action} with CALLERROR"
            f" {outcome.error_code}{description}",
            ExitCode.CALL_ERROR,
        )
    if outcome.status is Status.OFFLINE:
        raise _offline(station_id)
    if outcome.status is Status.DISCONNECTED:
        raise CliError(
            f"station {station_id} disconnected before it answered {action}; whether it"
            " carried it out is unknown",
            ExitCode.DISCONNECTED,
        )
    if outcome.status is Status.QUEUED:
        commands = ", ".join(str(i) for i in outcome.command_ids)
        raise CliError(
            f"station {station_id} is offline; {action} (command {commands}) stays queued"
            f" for up to {target.queue_for} and is sent when the station reconnects",
            ExitCode.QUEUED,
            label="queued",
        )
    if outcome.status is Status.EXPIRED:
        raise CliError(
            f"station {station_id} did not reconnect within --queue-for {target.queue_for};"
            f" {action} was not sent",
            ExitCode.EXPIRED,
        )
    raise CliError(
        f"station {station_id} did not answer {action} within {target.timeout:g} s",
        ExitCode.TIMEOUT,
    )


def print_response(response: dict[str, Any], json_out: bool) -> None:
    """Print a response payload: JSON, or one ``field: value`` line per field."""
    if json_out:
        print_json(response)
    elif response:
        print_fields(response)
    else:
        typer.echo("(empty response)")


def call(
    station_id: StationId,
    action: Annotated[
        str, typer.Argument(metavar="ACTION", help="OCPP action, e.g. Reset or GetVariables.")
    ],
    payload: Annotated[
        str,
        typer.Option(
            "--payload", metavar="JSON", help='Request payload, e.g. \'{"type": "Immediate"}\'.'
        ),
    ] = "{}",
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    queue_for: QueueForOption = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Send any CSMS-initiated OCPP call to a station and print its response.

    The payload is checked against the schema of the station's OCPP version before sending;
    actions only stations send (Heartbeat, BootNotification, ...) are refused.
    """
    try:
        body = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise usage(f"--payload: not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(body, dict):
        raise usage("--payload: must be a JSON object")
    target = Target(database_url, data_dir, station_id, timeout, queue_for)
    print_response(send(target, action, body, {"": "--payload"}), json_out)
