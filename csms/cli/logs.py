"""``csms logs``: have stations upload their logs to the CSMS (GetLog, N01) and list the
requests, their upload status and the files stored. Thin over :mod:`csms.operations.logs`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from csms.cli.base import DatabaseUrlOption, DataDirOption, JsonOption, StationId, with_store
from csms.cli.errors import CliError, ExitCode, not_found, shown, usage
from csms.cli.operations import (
    DEFAULT_TIMEOUT,
    QueueForOption,
    RetriesOption,
    RetryIntervalOption,
    TimeoutOption,
    check,
    location_option,
    queue_for_option,
    with_operations,
)
from csms.cli.output import print_json, print_table
from csms.cli.times import time_option
from csms.operations import Operations
from csms.operations import logs as ops_logs
from csms.operations.logs import LogQuery, LogResult
from csms.store import stations
from csms.store.logs import LogRequest

app = typer.Typer(help="Retrieve station logs over HTTP and list what was uploaded.",
                  no_args_is_help=True)

LOG_TYPES = ("DiagnosticsLog", "SecurityLog", "DataCollectorLog")
MAX_INT = 2**31 - 1
#: LogParametersType.remoteLocation is at most 512 characters (OCPP 2.0.1 and 2.1).
MAX_LOCATION = 512
#: The option behind each GetLog field, to name it when a station's version refuses one.
_OPTIONS = {"logType": "--type", "log.remoteLocation": "--location",
            "log.oldestTimestamp": "--from", "log.latestTimestamp": "--until",
            "retries": "--retries", "retryInterval": "--retry-interval"}


def _request_fields(request: LogRequest) -> dict[str, Any]:
    return {"station": request.station_id, "request_id": request.request_id,
            "type": request.log_type, "requested_at": request.requested_at,
            "answer": request.answer, "reason": request.answer_reason,
            "filename": request.filename, "status": request.status,
            "status_at": request.status_at, "canceled_by": request.canceled_by,
            "location": request.remote_location,
            "files": [{"filename": f.filename, "path": f.path, "size_bytes": f.size_bytes,
                       "sha256": f.sha256, "node": f.node_id, "received_at": f.received_at}
                      for f in request.files]}


@app.command("get")
def get(
    station_id: StationId,
    log_type: Annotated[str, typer.Option(
        "--type", metavar="|".join(LOG_TYPES[:2]),
        help="Which log (DataCollectorLog: OCPP 2.1).")] = "DiagnosticsLog",
    oldest: Annotated[str | None, typer.Option(
        "--from", metavar="TIME", show_default=False,
        help="Oldest entries to include (ISO 8601, -2h, ...).")] = None,
    latest: Annotated[str | None, typer.Option(
        "--until", metavar="TIME", show_default=False,
        help="Latest entries to include.")] = None,
    location: Annotated[str | None, typer.Option(
        "--location", metavar="URL", show_default=False,
        help="Upload there instead of to the CSMS's own endpoint.")] = None,
    retries: RetriesOption = None,
    retry_interval: RetryIntervalOption = None,
    wait: Annotated[bool, typer.Option(
        "--wait", help="Wait (up to --timeout) until the upload has ended.")] = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    queue_for: QueueForOption = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Ask a station to upload a log (GetLog) to the CSMS's upload endpoint.

    The station reports its progress with LogStatusNotification; the file is stored under
    the server's upload directory ('csms logs list' shows where).
    """
    if log_type not in LOG_TYPES:
        raise usage(f"--type: {shown(log_type)} is not one of {', '.join(LOG_TYPES)}")
    start, end = time_option("--from", oldest), time_option("--until", latest)
    if start is not None and end is not None and end < start:
        raise usage("--until: must not be before --from")
    if location is not None:
        location_option("--location", location, MAX_LOCATION)
    query = LogQuery(log_type, start, end, retries, retry_interval)
    queue = queue_for_option(queue_for)

    async def go(ops: Operations) -> tuple[LogResult, LogRequest | None]:
        result = await ops_logs.get_log(ops, station_id, query, location=location,
                                        timeout=timeout, queue_for=queue)
        done = None
        if result.outcome.ok and wait and result.request_id is not None:
            done = await ops_logs.wait_for_upload(ops.pool, station_id, result.request_id,
                                                  timeout)
        return result, done

    result, done = with_operations(database_url, data_dir, go)
    check(result.outcome, "GetLog", station_id, _OPTIONS, queueable=True)
    out: dict[str, Any] = {"request_id": result.request_id,
                           "status": result.outcome.station_status,
                           "filename": result.filename, "location": result.location}
    if done is not None:
        out = _request_fields(done)
    if json_out:
        print_json(out)
    else:
        for key in ("request_id", "status", "answer", "filename", "location"):
            if out.get(key) is not None:
                typer.echo(f"{key}: {out[key]}")
        for file in out.get("files", []):
            typer.echo(f"file: {file['path']} ({file['size_bytes']} bytes)")
    if done is not None:
        _end_of_upload(station_id, done)


def _end_of_upload(station_id: str, request: LogRequest) -> None:
    if request.status not in ops_logs.FINAL:
        raise CliError(f"GetLog to {shown(station_id)}: the upload had not ended within --timeout"
                       f" (status {request.status or 'none reported'})", ExitCode.TIMEOUT)
    if request.status != "Uploaded":
        raise CliError(f"GetLog to {shown(station_id)}: the station reported {request.status}",
                       ExitCode.CALL_ERROR)


@app.command("list")
def list_logs(
    station_id: Annotated[str | None, typer.Option(
        "--station", metavar="ID", show_default=False, help="Only this station.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000,
                                       help="How many of the latest requests.")] = 100,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List log requests, newest first: the station's answer, the upload status and the
    files stored."""
    async def go(pool: Any) -> list[LogRequest]:
        if station_id is not None and await stations.get_station(pool, station_id) is None:
            raise not_found(f"--station: unknown station {shown(station_id)}")
        return await ops_logs.log_requests(pool, station_id=station_id, limit=limit)

    requests = with_store(database_url, data_dir, go)
    if json_out:
        print_json([_request_fields(r) for r in requests])
        return
    rows = [{**_request_fields(r),
             "files": ", ".join(f"{f.path} ({f.size_bytes} B)" for f in r.files)}
            for r in requests]
    print_table(rows, ["requested_at", "station", "request_id", "type", "answer", "status",
                       "status_at", "files"], empty="(no log requests)")
