"""The command line's side of :mod:`csms.operations` for the firmware, logs, monitoring and
customer-information commands: the options they share, running a flow with an
:class:`~csms.operations.Operations` client, and how an :class:`~csms.operations.Outcome`
that is not accepted ends the command (one line, an exit code of :class:`ExitCode`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import asyncpg
import typer

from csms.cli.base import with_store_url
from csms.cli.errors import CliError, ExitCode, usage
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
    Status.OFFLINE: "the station is not connected (--queue-for DURATION queues the request)",
    Status.QUEUED: "the station is offline; the request stays queued",
    Status.EXPIRED: "the station did not reconnect in time",
    Status.INVALID: "not sent",
    Status.UNKNOWN_STATION: "unknown station",
}


def exit_code(outcome: Outcome) -> ExitCode:
    """The exit status for an outcome (OK when accepted)."""
    return ExitCode.OK if outcome.ok else _EXIT.get(outcome.status, ExitCode.INTERNAL)


def failure(outcome: Outcome, what: str) -> CliError:
    """The one-line error for an outcome that is not accepted; ``what`` names the request
    (e.g. "GetLog to CP-1")."""
    words = _WORDS.get(outcome.status, outcome.status.value)
    if outcome.status is Status.REJECTED:
        words = f"{words}: {outcome.describe()}"
    elif outcome.reason and outcome.status is not Status.OFFLINE:
        words = f"{words}: {outcome.reason}"
    label = "queued" if outcome.status is Status.QUEUED else "error"
    return CliError(f"{what}: {words}", exit_code(outcome), label=label)


def check(outcome: Outcome, what: str) -> None:
    """Raise :func:`failure` unless the outcome is accepted."""
    if not outcome.ok:
        raise failure(outcome, what)


def queue_for_option(text: str | None) -> timedelta | None:
    """The ``--queue-for`` duration, or None when the request must not be queued."""
    if text is None:
        return None
    duration = duration_option("--queue-for", text)
    if duration <= timedelta(0):
        raise usage("--queue-for: must be longer than zero")
    return duration


def with_operations(database_url: str | None, data_dir: Path | None,
                    fn: Callable[[Operations], Awaitable[T]]) -> T:
    """Open the store and an operations client, run ``fn(ops)`` and return its result."""

    async def go(pool: asyncpg.Pool, url: str) -> T:
        async with Operations(pool, url) as ops:
            return await fn(ops)

    return with_store_url(database_url, data_dir, go)
