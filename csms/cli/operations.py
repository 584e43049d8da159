"""The command line's side of :mod:`csms.operations` for the firmware, logs, monitoring and
customer-information commands: the options they share, running a flow with an
:class:`~csms.operations.Operations` client, and how an :class:`~csms.operations.Outcome`
that is not accepted ends the command (one line, an exit code of :class:`ExitCode`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, TypeVar
from urllib.parse import urlsplit

import asyncpg
import typer

from csms.cli.base import with_store_url
from csms.cli.errors import CliError, ExitCode, not_found, shown, usage
from csms.cli.times import duration_option
from csms.operations import Operations, Outcome, Status

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0

TimeoutOption = Annotated[
    float,
    typer.Option("--timeout", min=0.1, max=86400, help="Seconds to wait for the station."),
]
QueueForOption = Annotated[
    str | None,
    typer.Option("--queue-for", metavar="DURATION", show_default=False,
                 help="If the station is offline, queue the request for at most DURATION "
                      "(e.g. 10m, 2h) and send it when the station reconnects."),
]

RetriesOption = Annotated[int | None, typer.Option(
    "--retries", min=0, max=2**31 - 1, show_default=False,
    help="Attempts the station makes after the first fails.")]
RetryIntervalOption = Annotated[int | None, typer.Option(
    "--retry-interval", min=0, max=2**31 - 1, metavar="SECONDS", show_default=False,
    help="Seconds between those attempts.")]

_EXIT = {
    Status.REJECTED: ExitCode.CALL_ERROR,
    Status.CALLERROR: ExitCode.CALL_ERROR,
    Status.TIMEOUT: ExitCode.TIMEOUT,
    Status.DISCONNECTED: ExitCode.DISCONNECTED,
    Status.OFFLINE: ExitCode.OFFLINE,
    Status.QUEUED: ExitCode.QUEUED,
    Status.EXPIRED: ExitCode.EXPIRED,
    Status.INVALID: ExitCode.USAGE,
    Status.UNKNOWN_STATION: ExitCode.NOT_FOUND,
}

_WORDS = {
    Status.REJECTED: "rejected by the station",
    Status.CALLERROR: "the station answered with a CALLERROR",
    Status.TIMEOUT: "no answer in time",
    Status.DISCONNECTED: "the station disconnected before answering",
    Status.OFFLINE: "the station is not connected",
    Status.QUEUED: "the station is offline; the request stays queued",
    Status.EXPIRED: "the station did not reconnect in time",
}


def exit_code(outcome: Outcome) -> ExitCode:
    """The exit status for an outcome (OK when accepted)."""
    return ExitCode.OK if outcome.ok else _EXIT.get(outcome.status, ExitCode.INTERNAL)


def unknown_station(station_id: str) -> CliError:
    """The error for a station that is not registered."""
    return not_found(f"unknown station {shown(station_id)}")


def option_for(outcome: Outcome, options: Mapping[str, str] | None) -> str | None:
    """The option that set the request field an INVALID outcome is about, or None:
    ``options`` maps request fields (dotted, e.g. ``idToken``; a field stands for everything
    under it) to options."""
    field = outcome.field or ""
    for prefix in sorted(options or {}, key=len, reverse=True):
        if field == prefix or field.startswith(prefix + "."):
            return (options or {})[prefix]
    return None


def invalid(outcome: Outcome, options: Mapping[str, str] | None = None) -> CliError:
    """The usage error for an INVALID outcome (a request that breaks a rule of the station's
    OCPP version), led by the option that set the field at fault (see :func:`option_for`)."""
    reason = outcome.reason or "the request is not valid"
    option = option_for(outcome, options)
    return usage(f"{option}: {reason}" if option else reason)


def failure(outcome: Outcome, action: str, station_id: str,
            options: Mapping[str, str] | None = None, *, queueable: bool = False) -> CliError:
    """The one-line error for ``action`` to ``station_id`` when its outcome is not accepted
    (``options``: as for :func:`invalid`; ``queueable``: the command has ``--queue-for``,
    which an offline station's error then suggests)."""
    if outcome.status is Status.UNKNOWN_STATION:
        return unknown_station(station_id)
    if outcome.status is Status.INVALID:
        return invalid(outcome, options)
    words = _WORDS.get(outcome.status, outcome.status.value)
    if outcome.status is Status.REJECTED:
        words = f"{words}: {outcome.describe()}"
    elif outcome.reason and outcome.status is not Status.OFFLINE:
        words = f"{words}: {outcome.reason}"
    elif outcome.status is Status.OFFLINE and queueable:
        words = f"{words} (--queue-for DURATION queues the request)"
    label = "queued" if outcome.status is Status.QUEUED else "error"
    return CliError(f"{action} to {shown(station_id)}: {words}", exit_code(outcome),
                    label=label)


def check(outcome: Outcome, action: str, station_id: str,
          options: Mapping[str, str] | None = None, *, queueable: bool = False) -> None:
    """Raise :func:`failure` unless the outcome is accepted."""
    if not outcome.ok:
        raise failure(outcome, action, station_id, options, queueable=queueable)


def queue_for_option(text: str | None) -> timedelta | None:
    """The ``--queue-for`` duration, or None when the request must not be queued."""
    if text is None:
        return None
    duration = duration_option("--queue-for", text)
    if duration <= timedelta(0):
        raise usage("--queue-for: must be longer than zero")
    return duration


def location_option(option: str, text: str, longest: int) -> str:
    """A URL a station downloads from or uploads to (``scheme://host/...``, at most
    ``longest`` characters); a usage error naming ``option``."""
    if not 0 < len(text) <= longest:
        raise usage(f"{option}: give a URL of 1 to {longest} characters")
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if (parts is None or not parts.scheme or not parts.hostname
            or any(c.isspace() or not c.isprintable() for c in text)):
        raise usage(f"{option}: {shown(text)} is not a URL "
                    "(e.g. https://files.example.com/path)")
    return text


def with_operations(database_url: str | None, data_dir: Path | None,
                    fn: Callable[[Operations], Awaitable[T]]) -> T:
    """Open the store and an operations client, run ``fn(ops)`` and return its result."""

    async def go(pool: asyncpg.Pool, url: str) -> T:
        async with Operations(pool, url) as ops:
            return await fn(ops)

    return with_store_url(database_url, data_dir, go)
