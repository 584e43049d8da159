"""``csms local-list``: send stations their Local Authorization List and compare versions (D01,
D02). Thin over :mod:`csms.operations.locallist`."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Annotated, Any

import asyncpg
import typer

from csms.cli.base import (
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    StationId,
    with_store,
    with_store_url,
)
from csms.cli.calls import DEFAULT_TIMEOUT, TimeoutOption
from csms.cli.errors import CliError, ExitCode, shown
from csms.cli.operations import invalid, option_for, unknown_station
from csms.cli.output import print_fields, print_json, print_table
from csms.operations import Operations, Outcome, Status
from csms.operations.locallist import (
    LocalListResult,
    UpdateMode,
    VersionReport,
    get_local_list_version,
    send_local_list,
)
from csms.store import locallist, stations

app = typer.Typer(help="Send stations the Local Authorization List; compare its version.",
                  no_args_is_help=True)

#: The exit status of each way a call can fail (a station's refusal: CALL_ERROR).
_EXIT = {Status.REJECTED: ExitCode.CALL_ERROR, Status.CALLERROR: ExitCode.CALL_ERROR,
         Status.TIMEOUT: ExitCode.TIMEOUT, Status.DISCONNECTED: ExitCode.TIMEOUT,
         Status.OFFLINE: ExitCode.OFFLINE, Status.QUEUED: ExitCode.QUEUED,
         Status.EXPIRED: ExitCode.EXPIRED, Status.INVALID: ExitCode.USAGE,
         Status.UNKNOWN_STATION: ExitCode.NOT_FOUND}


def outcome_error(outcome: Outcome, action: str, subject: str,
                  options: Mapping[str, str] | None = None) -> CliError:
    """The one-line error for a call that did not end accepted; ``subject`` says what failed
    (``station CP-1``, ``reservation 7``); ``options`` maps request fields to the options
    they came from, to name the option when the station's OCPP version refuses a field (see
    :func:`csms.cli.operations.invalid`)."""
    reason = f": {outcome.reason}" if outcome.reason else ""
    if outcome.status is Status.INVALID and option_for(outcome, options):
        return invalid(outcome, options)
    if outcome.status is Status.REJECTED:
        message = f"{subject}: {action} answered {outcome.station_status}{reason}"
    elif outcome.status is Status.CALLERROR:
        message = f"{subject}: {action} answered with CALLERROR {outcome.error_code}{reason}"
    elif outcome.status in (Status.TIMEOUT, Status.DISCONNECTED):
        message = f"{subject}: no answer to {action}{reason}"
    else:
        message = f"{subject}: {outcome.reason or outcome.status.value}"
    return CliError(message, _EXIT.get(outcome.status, ExitCode.INTERNAL))


def _summary(result: LocalListResult) -> dict[str, Any]:
    """A result as printed with --json (the requests themselves left out: a list can be long)."""
    return {
        "station_id": result.station_id, "mode": result.mode, "ok": result.ok,
        "status": result.outcome.status, "station_status": result.outcome.station_status,
        "reason": result.outcome.reason, "unchanged": result.unchanged,
        "update_type": result.update_type, "version": result.version,
        "entries": result.entries, "fallback": result.fallback, "skipped": result.skipped,
        "messages": [{"update_type": p.update_type, "version": p.version, "entries": p.entries,
                      "status": p.outcome.status, "station_status": p.outcome.station_status}
                     for p in result.sent],
    }


def _line(result: LocalListResult) -> str:
    station = result.station_id
    if result.unchanged:
        return (f"{station}: already holds the list (version {result.version}, "
                f"{result.entries} entries); nothing sent")
    messages = f" in {len(result.parts)} messages" if len(result.parts) > 1 else ""
    text = (f"{station}: {result.update_type} update accepted{messages}, version "
            f"{result.version}, {result.entries} entries")
    if result.fallback:
        text += f" (the full list was sent: {result.fallback})"
    return text


def _report(results: list[LocalListResult], json_out: bool) -> None:
    if json_out:
        print_json([_summary(r) for r in results])
    else:
        for result in results:
            if result.ok:
                typer.echo(_line(result))
            if result.skipped:
                typer.echo(f"{result.station_id}: left out (not valid in its OCPP version): "
                           + ", ".join(result.skipped))
    failed = [r for r in results if not r.ok]
    if not failed:
        return
    # nothing sent: the version asked before a differential update is what failed
    errors = [unknown_station(r.station_id) if r.outcome.status is Status.UNKNOWN_STATION
              else outcome_error(r.outcome, "SendLocalList" if r.sent else "GetLocalListVersion",
                                 f"station {shown(r.station_id)}") for r in failed]
    if len(results) == 1:
        raise errors[0]
    raise CliError(f"{len(failed)} of {len(results)} stations failed; "
                   + "; ".join(e.format_message() for e in errors), ExitCode(errors[0].exit_code))


@app.command("send")
def send(
    station_ids: Annotated[list[str], typer.Argument(
        metavar="ID...", help="The stations to send the list to.")],
    full: Annotated[bool, typer.Option(
        "--full/--diff", help="The whole list, or only what changed since the version the "
                              "station holds (the whole list when that version is not the one "
                              "on record).", show_default=False)],
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Send the Local Authorization List of every stored token (SendLocalList).

    Each token goes with the status, expiry and group an Authorize would get; a long list in parts.
    """
    mode = UpdateMode.FULL if full else UpdateMode.DIFFERENTIAL
    wanted = list(dict.fromkeys(station_ids))

    async def go(pool: asyncpg.Pool, url: str) -> list[LocalListResult]:
        async with Operations(pool, url) as ops:
            return list(await asyncio.gather(*(
                send_local_list(ops, pool, s, mode, timeout=timeout) for s in wanted)))

    _report(with_store_url(database_url, data_dir, go), json_out)


@app.command("version")
def version(
    station_id: StationId,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Ask which list version a station holds (GetLocalListVersion), beside the CSMS's record."""

    async def go(pool: asyncpg.Pool, url: str) -> VersionReport:
        async with Operations(pool, url) as ops:
            return await get_local_list_version(ops, pool, station_id, timeout=timeout)

    report = with_store_url(database_url, data_dir, go)
    if report.outcome.status is Status.UNKNOWN_STATION:
        raise unknown_station(station_id)
    if not report.outcome.ok:
        raise outcome_error(report.outcome, "GetLocalListVersion",
                            f"station {shown(station_id)}")
    if json_out:
        print_json({"station_id": station_id, "version": report.reported_version,
                    "recorded_version": report.recorded_version, "in_step": report.in_step})
        return
    held = ("no list" if report.reported_version == 0
            else f"version {report.reported_version}")
    if report.in_step:
        typer.echo(f"{station_id}: {held}, as on record")
    else:
        typer.echo(f"{station_id}: {held}; the CSMS recorded version "
                   f"{report.recorded_version} (the next 'local-list send --diff' sends the "
                   "whole list)")


@app.command("show")
def show(
    station_id: StationId,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show the list the CSMS believes a station holds, and the last update's answer."""

    async def go(pool: asyncpg.Pool) -> locallist.LocalListState | None:
        if await stations.get_station(pool, station_id) is None:
            return None
        return await locallist.get_state(pool, station_id)

    state = with_store(database_url, data_dir, go)
    if state is None:
        raise unknown_station(station_id)
    if json_out:
        print_json(state)
        return
    print_fields({k: v for k, v in vars(state).items() if k != "entries"})
    typer.echo("")
    print_table([{"id_token": e.id_token, "type": e.token_type, "info": e.info}
                 for e in state.entries], ["id_token", "type", "info"], empty="(no entries)")
