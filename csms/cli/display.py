"""``csms display``: messages on a station's display (O01-O06): set, get, clear, list.

Thin over :mod:`csms.operations.display`. What the station answers is recorded by the CSMS;
``list`` shows that record without asking the station.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
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
from csms.cli.calls import DEFAULT_TIMEOUT, QueueForOption, TimeoutOption, parse_queue_for
from csms.cli.errors import CliError, ExitCode, shown, usage
from csms.cli.operations import invalid, unknown_station
from csms.cli.output import print_json, print_table
from csms.cli.times import time_option
from csms.operations import Operations, Outcome, Status
from csms.operations import display as ops_display
from csms.operations.display import FORMATS, PRIORITIES, STATES, DisplayReport, SetResult
from csms.store import display as store
from csms.store.display import DisplayMessage, StoredMessage
from csms.store.stations import existing_station_ids

app = typer.Typer(help="Show, read and clear messages on a station's display.",
                  no_args_is_help=True)

MAX_INT = 2**31 - 1
ALL_FORMATS = FORMATS["2.1"]
ALL_STATES = STATES["2.1"]
#: The option behind each field of a message, to name it in an error.
_OPTIONS = {"content": "--message", "priority": "--priority", "format": "--format",
            "state": "--state", "language": "--language", "transaction_id": "--transaction",
            "end": "--until"}

PriorityOption = Annotated[str | None, typer.Option(
    "--priority", metavar="|".join(PRIORITIES), show_default=False,
    help="AlwaysFront: shown over everything; InFront: over the normal cycle; NormalCycle: "
         "in turn with the others (default).")]
StateOption = Annotated[str | None, typer.Option(
    "--state", metavar="|".join(ALL_STATES[:4]), show_default=False,
    help="Show only in this station state (2.1 adds Suspended, Discharging).")]


def _choice(option: str, value: str | None, allowed: Sequence[str]) -> str | None:
    """``value`` as one of ``allowed`` (any case); a usage error naming ``option``."""
    if value is None:
        return None
    for word in allowed:
        if value.lower() == word.lower():
            return word
    raise usage(f"{option}: {shown(value)} is not one of {', '.join(allowed)}")


#: How each outcome that is not a success ends the command.
_EXIT = {Status.INVALID: ExitCode.USAGE, Status.UNKNOWN_STATION: ExitCode.NOT_FOUND,
         Status.OFFLINE: ExitCode.OFFLINE, Status.DISCONNECTED: ExitCode.OFFLINE,
         Status.CALLERROR: ExitCode.CALL_ERROR, Status.REJECTED: ExitCode.CALL_ERROR,
         Status.TIMEOUT: ExitCode.TIMEOUT, Status.QUEUED: ExitCode.QUEUED,
         Status.EXPIRED: ExitCode.EXPIRED}


#: The option behind each request field, to name it when a station's version refuses one.
_FIELDS = {"message.message.content": "--message", "message.message.language": "--language",
           "message.message.format": "--format", "message.priority": "--priority",
           "message.state": "--state", "message.startDateTime": "--from",
           "message.endDateTime": "--until", "message.transactionId": "--transaction",
           "message.id": "--id", "id": "--id", "priority": "--priority", "state": "--state"}


def _fail(station_id: str, action: str, outcome: Outcome) -> CliError:
    """One line for an outcome that is not a success, with its exit code."""
    station = shown(station_id)
    if outcome.status is Status.UNKNOWN_STATION:
        return unknown_station(station_id)
    if outcome.status is Status.INVALID:
        return invalid(outcome, _FIELDS)
    if outcome.status is Status.REJECTED:
        reason = f" ({outcome.reason})" if outcome.reason else ""
        return CliError(f"{station} refused {action}: {outcome.station_status}{reason}",
                        ExitCode.CALL_ERROR)
    if outcome.status is Status.QUEUED:
        return CliError(f"{station} is offline; {action} stays queued and is sent when it "
                        "reconnects", ExitCode.QUEUED, label="queued")
    return CliError(f"{action} to {station}: {outcome.describe()}",
                    _EXIT.get(outcome.status, ExitCode.INTERNAL))


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {"outcome": outcome.status, "status": outcome.station_status,
            "reason": outcome.reason}


@app.command("set")
def set_(
    station_id: StationId,
    message: Annotated[str, typer.Option("--message", metavar="TEXT",
                                         help="What the display shows.")],
    priority: PriorityOption = None,
    state: StateOption = None,
    start: Annotated[str | None, typer.Option(
        "--from", metavar="TIME", help="Show from (ISO 8601, +10m; default: at once).",
        show_default=False)] = None,
    until: Annotated[str | None, typer.Option(
        "--until", metavar="TIME", help="Remove at (default: until cleared).",
        show_default=False)] = None,
    transaction: Annotated[str | None, typer.Option(
        "--transaction", metavar="TX", show_default=False,
        help="Show during this transaction only; removed when it ends (O02).")] = None,
    language: Annotated[str | None, typer.Option(
        "--language", metavar="L", help="Language (RFC 5646, e.g. en, nl-BE).",
        show_default=False)] = None,
    message_format: Annotated[str, typer.Option(
        "--format", metavar="|".join(ALL_FORMATS[:4]),
        help="How TEXT is to be read (2.1 adds QRCODE).")] = "UTF8",
    message_id: Annotated[int | None, typer.Option(
        "--id", min=0, max=store.GRID_MESSAGE_BASE - 1, show_default=False,
        help="Message id: an id in use replaces that message (O06); default: the next free "
             "one.")] = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    queue_for: QueueForOption = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show a message on a station's display (SetDisplayMessage)."""
    begin = time_option("--from", start)
    end = time_option("--until", until)
    if end is not None and end <= (begin or datetime.now(UTC)):
        raise usage("--until: must be later than --from and than now")
    wanted = DisplayMessage(
        content=message, priority=_choice("--priority", priority, PRIORITIES) or "NormalCycle",
        format=_choice("--format", message_format, ALL_FORMATS) or "UTF8",
        language=language, state=_choice("--state", state, ALL_STATES), start=begin, end=end,
        transaction_id=transaction, id=message_id)
    queue = parse_queue_for(queue_for)

    async def go(pool: asyncpg.Pool, url: str) -> SetResult:
        async with Operations(pool, url) as ops:
            return await ops_display.set_message(ops, pool, station_id, wanted,
                                                 timeout=timeout, queue_for=queue)

    result = with_store_url(database_url, data_dir, go)
    if result.problem is not None:
        raise usage(f"{_OPTIONS[result.problem.field]}: {result.problem.text}")
    if json_out:
        print_json({"id": result.message.id, **_outcome_json(result.outcome)})
    if not result.outcome.ok:
        raise _fail(station_id, "SetDisplayMessage", result.outcome)
    if not json_out:
        typer.echo(f"message {result.message.id} on {station_id}: Accepted")


_COLUMNS = ["id", "priority", "state", "format", "language", "start", "end",
            "transaction_id", "content"]


@app.command("get")
def get(
    station_id: StationId,
    ids: Annotated[list[int] | None, typer.Option(
        "--id", min=0, max=MAX_INT, show_default=False,
        help="Only these messages (repeat for several).")] = None,
    priority: PriorityOption = None,
    state: StateOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Ask the station which messages it has (GetDisplayMessages).

    Only messages matching every criterion given are listed; the station's
    NotifyDisplayMessages answer is collected and stored.
    """
    wanted_priority = _choice("--priority", priority, PRIORITIES)
    wanted_state = _choice("--state", state, ALL_STATES)

    async def go(pool: asyncpg.Pool, url: str) -> DisplayReport:
        async with Operations(pool, url) as ops:
            return await ops_display.get_messages(ops, pool, station_id, ids=ids,
                                                  priority=wanted_priority,
                                                  state=wanted_state, timeout=timeout)

    report = with_store_url(database_url, data_dir, go)
    if not report.outcome.ok:
        raise _fail(station_id, "GetDisplayMessages", report.outcome)
    if json_out:
        print_json({**_outcome_json(report.outcome), "complete": report.complete,
                    "messages": report.messages, "gone": report.gone})
    else:
        print_table([vars(m) for m in report.messages], _COLUMNS, empty="no messages")
        if report.gone:
            typer.echo(f"{report.gone} message(s) the CSMS had recorded are no longer on "
                       "the station")
    if not report.complete:
        raise CliError(f"{shown(station_id)} did not send its whole report within {timeout:g} s",
                       ExitCode.TIMEOUT)


@app.command("clear")
def clear(
    station_id: StationId,
    message_id: Annotated[int, typer.Argument(metavar="MESSAGE_ID", min=0, max=MAX_INT,
                                              help="The message to remove.")],
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Remove a message from a station's display (ClearDisplayMessage)."""
    async def go(pool: asyncpg.Pool, url: str) -> Outcome:
        async with Operations(pool, url) as ops:
            return await ops_display.clear_message(ops, station_id, message_id,
                                                   timeout=timeout)

    outcome = with_store_url(database_url, data_dir, go)
    if json_out:
        print_json({"id": message_id, **_outcome_json(outcome)})
    if outcome.station_status == "Unknown":
        raise CliError(f"{shown(station_id)} has no display message {message_id}",
                       ExitCode.NOT_FOUND)
    if not outcome.ok:
        raise _fail(station_id, "ClearDisplayMessage", outcome)
    if not json_out:
        typer.echo(f"message {message_id} cleared from {station_id}")


@app.command("list")
def list_(
    station_id: StationId,
    everything: Annotated[bool, typer.Option(
        "--all", help="Also messages cleared, gone, expired or of ended transactions.")] = False,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List the messages the CSMS knows on a station, without asking it.

    Those set through the CSMS and those the station reported.
    """
    async def go(db: asyncpg.Pool) -> list[StoredMessage]:
        if not await existing_station_ids(db, [station_id]):
            raise unknown_station(station_id)
        return await store.list_messages(db, station_id, everything=everything)

    messages = with_store(database_url, data_dir, go)
    if json_out:
        print_json(messages)
        return
    print_table([vars(m) for m in messages],
                ["id", "status", "origin", "priority", "state", "start", "end",
                 "transaction_id", "content"], empty="no messages")
