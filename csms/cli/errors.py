"""Exit codes of the ``csms`` command and the error every command raises to use them.

A command never lets an exception escape: it raises :class:`CliError` with the exit code that
names the kind of failure, and the application prints its message as one line on stderr.
"""

from __future__ import annotations

from enum import IntEnum

try:  # typer >= 0.20 ships its own copy of click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer depends on click
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

ClickException = click_exceptions.ClickException
UsageError = click_exceptions.UsageError
NoArgsIsHelpError = click_exceptions.NoArgsIsHelpError


class ExitCode(IntEnum):
    """The exit status of every ``csms`` command (documented in ``docs/cli.md``)."""

    OK = 0
    INTERNAL = 1  # a bug: an unexpected exception, reported in one line
    USAGE = 2  # a wrong argument or option, or an invalid OCPP payload
    NOT_FOUND = 3  # unknown station, token or transaction
    OFFLINE = 4  # the station is not connected (and the command was not queued)
    CALL_ERROR = 5  # the station answered with a CALLERROR
    TIMEOUT = 6  # no answer within --timeout
    EXPIRED = 7  # a queued command expired before the station reconnected
    CONFLICT = 8  # the thing to add already exists
    DATABASE = 9  # the database cannot be reached, or its schema is newer than this code
    QUEUED = 10  # not a failure: the command waits for the offline station (--queue-for)
    DISCONNECTED = 11  # the station dropped its connection before it answered
    INTERRUPTED = 130  # Ctrl-C


#: What each exit status means, for ``--help`` (the table in ``docs/cli.md`` says the same).
EXIT_MEANINGS = {
    ExitCode.OK: "success",
    ExitCode.INTERNAL: "internal error",
    ExitCode.USAGE: "bad argument, option or payload",
    ExitCode.NOT_FOUND: "unknown station, token or transaction",
    ExitCode.OFFLINE: "station not connected",
    ExitCode.CALL_ERROR: "station answered CALLERROR",
    ExitCode.TIMEOUT: "no answer within --timeout",
    ExitCode.EXPIRED: "queued command expired",
    ExitCode.CONFLICT: "already exists",
    ExitCode.DATABASE: "database unreachable",
    ExitCode.QUEUED: "command still queued",
    ExitCode.DISCONNECTED: "station disconnected before it answered",
    ExitCode.INTERRUPTED: "interrupted",
}
#: The exit statuses of a command sent to a station.
STATION_COMMAND_EXITS = (ExitCode.OK, ExitCode.USAGE, ExitCode.NOT_FOUND, ExitCode.OFFLINE,
                         ExitCode.CALL_ERROR, ExitCode.TIMEOUT, ExitCode.EXPIRED,
                         ExitCode.QUEUED, ExitCode.DISCONNECTED)


def exit_status_help(codes: tuple[ExitCode, ...] = tuple(ExitCode)) -> str:
    """One ``--help`` paragraph naming what each of ``codes`` means."""
    return "Exit status: " + "; ".join(f"{int(c)} {EXIT_MEANINGS[c]}" for c in codes) + "."


class CliError(ClickException):
    """A failure to report in one line on stderr, with the exit code for its kind."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE, label: str = "error"):
        super().__init__(message)
        self.exit_code = int(code)
        self.label = label


def shown(value: str) -> str:
    """An operator's value as an error message shows it: as typed, without quotes; "(empty)"
    for nothing, and control characters escaped so the message stays one line."""
    if not value:
        return "(empty)"
    if value.isprintable():
        return value
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in value)


def usage(message: str) -> CliError:
    """A wrong argument: the message names the argument and what is wrong with it."""
    return CliError(message, ExitCode.USAGE)


def not_found(message: str) -> CliError:
    """Something the operator named does not exist."""
    return CliError(message, ExitCode.NOT_FOUND)
