"""What every ``csms`` command shares: the database options, the store session, and the rule
that a failure is one line on stderr with a documented exit code, never a traceback."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import typer
from typer.core import TyperGroup

from csms.cli.errors import (
    ClickException,
    CliError,
    ExitCode,
    NoArgsIsHelpError,
    UsageError,
    shown,
)

T = TypeVar("T")

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="CSMS_DATA_DIR",
        help="Directory of the embedded PostgreSQL (used when no database URL is given).",
        show_default=False,
    ),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="CSMS_DATABASE_URL",
        help="PostgreSQL URL of the CSMS database (default: the embedded one in --data-dir).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
#: the station group a grid command is limited to
GroupOption = Annotated[str | None, typer.Option(help="Only this station group.")]
#: how much stored history the plug-in forecast learns from
HistoryWeeksOption = Annotated[int, typer.Option("--weeks", help="Weeks of history to learn from.",
                                                 min=1, max=104)]
StationId = Annotated[str, typer.Argument(metavar="ID", help="The station's identity.")]


def one_line(text: str) -> str:
    """Collapse whitespace so a message prints as exactly one line."""
    return " ".join(str(text).split()) or "unknown error"


def report(message: str, prefix: str = "csms", label: str = "error") -> None:
    """Print ``prefix: label: message`` as one line on stderr."""
    typer.echo(f"{prefix}: {label}: {one_line(message)}", err=True)


class CsmsGroup(TyperGroup):
    """The root command group: turns every failure into one stderr line and an exit code."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; exit with the code of :class:`ExitCode` that fits the outcome."""
        try:
            rv = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
            code = rv if isinstance(rv, int) else ExitCode.OK
        except NoArgsIsHelpError as exc:
            # with rich installed the help is already printed when the error is made
            if exc.format_message().strip():
                typer.echo(exc.format_message())
            code = ExitCode.OK
        except UsageError as exc:
            path = exc.ctx.command_path if exc.ctx is not None else "csms"
            report(f"{exc.format_message()} (see '{path} --help')", path)
            code = exc.exit_code
        except CliError as exc:
            report(exc.format_message(), label=exc.label)
            code = exc.exit_code
        except ClickException as exc:
            report(exc.format_message())
            code = exc.exit_code
        except typer.Abort:
            report("aborted")
            code = ExitCode.INTERNAL
        except KeyboardInterrupt:
            report("interrupted")
            code = ExitCode.INTERRUPTED
        except Exception as exc:
            if os.environ.get("CSMS_DEBUG"):
                raise
            report(f"unexpected {type(exc).__name__}: {exc} (set CSMS_DEBUG=1 for a traceback)")
            code = ExitCode.INTERNAL
        if standalone_mode:
            sys.exit(int(code))
        return int(code)


def redact(url: str) -> str:
    """The URL without its password, fit to print."""
    try:
        parts = urlsplit(url)
        if parts.password:
            netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
            return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        pass
    return url


def resolve_url(database_url: str | None, data_dir: Path | None) -> str:
    """The database URL for a command: the option, the environment, or the embedded server."""
    from csms.store.embedded import resolve_database_url

    try:
        return resolve_database_url(database_url, data_dir)
    except Exception as exc:
        raise CliError(
            f"cannot start the embedded PostgreSQL in {data_dir or 'the default data directory'}:"
            f" {exc}",
            ExitCode.DATABASE,
        ) from None


@asynccontextmanager
async def open_store(url: str) -> AsyncIterator[asyncpg.Pool]:
    """A small connection pool on the migrated CSMS database; a failure is a DATABASE error."""
    from csms.store.db import open_pool

    try:
        pool = await open_pool(url, min_size=1, max_size=2)
    except Exception as exc:
        raise CliError(
            f"cannot open the database {redact(url)}: {type(exc).__name__}: {exc}",
            ExitCode.DATABASE,
        ) from None
    try:
        yield pool
    finally:
        await pool.close()


def run(coro: Awaitable[T]) -> T:
    """Run ``coro`` to completion, turning database failures into a DATABASE error."""

    async def _main() -> T:
        return await coro

    try:
        return asyncio.run(_main())
    except (asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError) as exc:
        raise CliError(f"database error: {type(exc).__name__}: {exc}", ExitCode.DATABASE) from None


def with_store(
    database_url: str | None, data_dir: Path | None, fn: Callable[[asyncpg.Pool], Awaitable[T]]
) -> T:
    """Resolve the database, open the store, run ``fn(pool)`` and return its result."""
    return with_store_url(database_url, data_dir, lambda pool, _url: fn(pool))


def with_store_url(
    database_url: str | None,
    data_dir: Path | None,
    fn: Callable[[asyncpg.Pool, str], Awaitable[T]],
) -> T:
    """As :func:`with_store`, for work that also needs the database URL: ``fn(pool, url)``
    (waiting for a station's answer listens on a connection of its own)."""
    url = resolve_url(database_url, data_dir)

    async def _go() -> T:
        async with open_store(url) as pool:
            return await fn(pool, url)

    return run(_go())


def check_listen_host(host: str, port: int) -> None:
    """Refuse a ``--host`` this machine cannot listen on (unresolvable, empty, not a name)."""
    import socket

    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else "not a host name"
        raise CliError(f"--host: cannot listen on {shown(host)}: {reason}",
                       ExitCode.USAGE) from None
