"""``csms serve``: run a CSMS node in the foreground."""

from __future__ import annotations

import asyncio
import errno
import importlib.util
import os
import shutil
import socket
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import asyncpg
import typer

from csms.blocks.station_context import BOOT_POLICIES
from csms.cli.base import check_listen_host
from csms.cli.errors import CliError, ExitCode, shown
from csms.cli.password_key import PasswordKeyFileOption, key_file, loaded
from csms.config import ServerConfig, UploadSettings
from csms.logging import FORMATS, LEVELS, configure_logging


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port to listen on.")] = 9000,
    data_dir: Annotated[
        Path | None,
        typer.Option(envvar="CSMS_DATA_DIR",
                     help="Directory of the embedded PostgreSQL (when no database URL is set)."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(envvar="CSMS_DATABASE_URL", help="PostgreSQL URL; overrides --data-dir."),
    ] = None,
    auto_register: Annotated[
        bool,
        typer.Option(help="Admit unknown stations and register them with the password they "
                     "present. For labs and simulators only."),
    ] = False,
    heartbeat_interval: Annotated[
        int, typer.Option(min=1, help="Heartbeat interval given to stations at boot (s).")
    ] = 300,
    boot_policy: Annotated[
        str, typer.Option(help="BootNotification answer for stations without a boot status "
                          "of their own (csms stations set-boot): "
                          + ", ".join(BOOT_POLICIES) + ".")
    ] = "accept",
    boot_retry_interval: Annotated[
        int, typer.Option(min=1, help="Seconds a Pending or Rejected station waits before "
                          "booting again (csms stations set-boot).")
    ] = 60,
    call_timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds to wait for a station's answer.")
    ] = 30.0,
    cost_update_interval: Annotated[
        float, typer.Option(min=0.0, help="Seconds between running-cost updates (CostUpdated) "
                            "to stations with a transaction under a tariff (csms tariffs); "
                            "0: none.")
    ] = 60.0,
    meter_rollup_interval: Annotated[
        float, typer.Option(min=0.0, help="Seconds between per-minute meter rollup runs; the "
                            "daily meter data maintenance (partitions, compaction, retention) "
                            "runs on the same node; 0: neither runs on this node.")
    ] = 30.0,
    max_connections: Annotated[
        int, typer.Option(min=1, help="Most stations connected to this node at once.")
    ] = 20000,
    ping_interval: Annotated[
        float, typer.Option(min=1.0, help="Websocket ping interval and timeout (s).")
    ] = 30.0,
    max_message_size: Annotated[
        int, typer.Option(min=1024, help="Largest OCPP message accepted (bytes); a larger one "
                          "closes the station's socket with 1009.")
    ] = 1024 * 1024,
    handshake_timeout: Annotated[
        float, typer.Option(min=0.5, help="Seconds allowed for the TCP, TLS and websocket "
                            "opening handshake.")
    ] = 10.0,
    max_auth_failures: Annotated[
        int, typer.Option(min=1, help="Failed logins per address and per identity within a "
                          "minute before HTTP 429.")
    ] = 10,
    shutdown_grace: Annotated[
        float, typer.Option(min=0.0, help="Seconds in-flight station messages get to finish "
                            "on SIGTERM before sockets close with 1001.")
    ] = 10.0,
    tls_cert: Annotated[
        Path | None,
        typer.Option(help="Server certificate (PEM): serve TLS 1.2+ (security profiles 2, 3).",
                     exists=True, dir_okay=False),
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option(help="Private key of --tls-cert (PEM).", exists=True, dir_okay=False),
    ] = None,
    tls_client_ca: Annotated[
        Path | None,
        typer.Option(help="CA (PEM) that station client certificates must chain to "
                     "(security profile 3).", exists=True, dir_okay=False),
    ] = None,
    upload_port: Annotated[
        int, typer.Option(min=0, max=65535, help="TCP port of the HTTP endpoint stations "
                          "upload logs to (GetLog); 0: a free port, chosen at start.")
    ] = 0,
    upload_dir: Annotated[
        Path | None,
        typer.Option(help="Directory for uploaded logs (default: DATA_DIR/uploads).",
                     file_okay=False, show_default=False),
    ] = None,
    upload_url: Annotated[
        str | None,
        typer.Option(help="Base URL stations reach the upload endpoint at, when it differs "
                     "from http://HOST:UPLOAD_PORT (NAT, proxy).", show_default=False),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Server processes sharing the port "
                          "(SO_REUSEPORT), each an independent node on the database.")
    ] = 1,
    metrics_port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Serve Prometheus /metrics, /healthz "
                                 "and /readyz on this port (every worker's figures added up).",
                                 show_default=False)
    ] = None,
    password_key_file: PasswordKeyFileOption = None,
    loop: Annotated[
        str, typer.Option(help="Event loop: uvloop (libuv's: about a fifth less CPU per "
                          "message, storms twice as fast; docs/performance.md), asyncio (the "
                          "standard library's), or auto: uvloop where it is installed.")
    ] = "auto",
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    log_format: Annotated[str, typer.Option(help="console or json.")] = "console",
) -> None:
    """Run the CSMS: accept stations on ws://HOST:PORT/<anything>/<identity> until SIGTERM."""
    if log_level not in LEVELS:
        raise typer.BadParameter(f"must be one of {', '.join(LEVELS)}", param_hint="--log-level")
    if log_format not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}",
                                 param_hint="--log-format")
    if loop not in EVENT_LOOPS:
        raise typer.BadParameter(f"must be one of {', '.join(EVENT_LOOPS)}", param_hint="--loop")
    if loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
        raise typer.BadParameter("uvloop is not installed (use auto or asyncio)",
                                 param_hint="--loop")
    if boot_policy not in BOOT_POLICIES:
        raise typer.BadParameter(f"must be one of {', '.join(BOOT_POLICIES)}",
                                 param_hint="--boot-policy")
    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("--tls-cert and --tls-key go together", param_hint="--tls-key")
    if tls_client_ca is not None and tls_cert is None:
        raise typer.BadParameter("needs --tls-cert and --tls-key", param_hint="--tls-client-ca")
    if upload_url is not None:
        _check_upload_url(upload_url)
    check_listen_host(host, port)
    configure_logging(log_level, log_format)
    from csms.store.embedded import default_data_dir, resolve_database_url

    try:
        url = resolve_database_url(database_url, data_dir)
    except Exception as exc:  # the embedded server could not start: say why in one line
        raise CliError(f"cannot start the embedded PostgreSQL: {exc}",
                       ExitCode.DATABASE) from None
    directory = upload_dir or Path(data_dir or os.environ.get("CSMS_DATA_DIR")
                                   or default_data_dir()) / "uploads"
    _check_upload_dir(directory, "--upload-dir" if upload_dir else "--data-dir")
    # Made (or checked) here, once, before any worker starts: every worker reads the same key.
    key_path = key_file(password_key_file, data_dir)
    loaded(key_path, create=True)
    uploads = UploadSettings(directory=directory, host=host, port=upload_port,
                             public_url=upload_url, reuse_port=workers > 1)
    config = ServerConfig(
        host=host, port=port, database_url=url, auto_register=auto_register, uploads=uploads,
        heartbeat_interval=heartbeat_interval, boot_policy=boot_policy,
        boot_retry_interval=boot_retry_interval, cost_update_interval=cost_update_interval,
        meter_rollup_interval=meter_rollup_interval,
        call_timeout=call_timeout, max_connections=max_connections,
        ping_interval=ping_interval, ping_timeout=ping_interval,
        max_message_size=max_message_size, handshake_timeout=handshake_timeout,
        max_auth_failures=max_auth_failures, shutdown_grace=shutdown_grace,
        tls_cert=str(tls_cert) if tls_cert else None,
        tls_key=str(tls_key) if tls_key else None,
        tls_client_ca=str(tls_client_ca) if tls_client_ca else None,
        metrics_port=metrics_port, password_key_file=key_path, event_loop=loop,
    )
    if workers > 1:
        from csms.workers import RestartPolicy, run_workers

        metrics_dir = _shared_metrics() if metrics_port is not None else None
        try:
            status = run_workers(config, workers, run_node, log_level=log_level,
                                 log_format=log_format, policy=RestartPolicy(
                                     retry_statuses=frozenset({ExitCode.DATABASE})))
        except OSError as exc:
            typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror}", err=True)
            raise typer.Exit(ExitCode.USAGE) from None
        finally:
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)
    else:
        status = run_node(config)
    if status:
        raise typer.Exit(status)


def _shared_metrics() -> str:
    """A directory where worker processes keep their metrics (set before they start)."""
    from csms.metrics import MULTIPROC_ENV

    directory = tempfile.mkdtemp(prefix="csms-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    return directory


async def _run(config: ServerConfig) -> None:
    from csms.server import CentralSystem

    system = CentralSystem(config)
    if config.metrics_port is None:
        await system.run_until_signalled()
        return
    from csms.api.server import probes

    async with probes(lambda: system.pool, config.host, config.metrics_port,
                      reuse_port=config.reuse_port):
        await system.run_until_signalled()


def _check_upload_url(url: str) -> None:
    """Refuse an --upload-url stations could not upload to."""
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok or any(c.isspace() or not c.isprintable() for c in url):
        raise CliError(f"--upload-url: {shown(url)} is not an http or https URL "
                       "(e.g. https://csms.example.com:8443)", ExitCode.USAGE)


def _check_upload_dir(directory: Path, option: str) -> None:
    """Refuse an upload directory this process cannot create or write to."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"{option}: cannot create the upload directory {directory}: "
                       f"{exc.strerror or type(exc).__name__}", ExitCode.USAGE) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CliError(f"{option}: cannot write to the upload directory {directory}",
                       ExitCode.USAGE)


#: ``csms serve --loop``: the event loops a node can run on.
EVENT_LOOPS = ("auto", "uvloop", "asyncio")


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory of the event loop ``name`` (None: asyncio's own); ``auto`` is uvloop
    where it is installed (it is a dependency except on Windows)."""
    if name in ("uvloop", "auto"):
        try:
            import uvloop
        except ImportError:
            if name == "uvloop":
                raise
            return None
        return uvloop.new_event_loop
    return None


def run_node(config: ServerConfig) -> int:
    """Run one CSMS node in this process until SIGTERM; returns the exit status.

    Failures to start print one line on stderr (never a traceback).
    """
    from csms.security.password_key import PasswordKeyError
    from csms.store.migrate import MigrationError
    from csms.workers import tune_process

    tune_process()
    try:
        with asyncio.Runner(loop_factory=loop_factory(config.event_loop)) as runner:
            runner.run(_run(config))
    except ssl.SSLError as exc:
        typer.echo(f"error: TLS certificate or key: {exc}", err=True)
        return ExitCode.USAGE
    except PasswordKeyError as exc:
        typer.echo(f"error: --password-key-file: {exc}", err=True)
        return ExitCode.USAGE
    except MigrationError as exc:
        typer.echo(f"error: database schema: {exc}", err=True)
        return ExitCode.DATABASE
    except (OSError, asyncpg.PostgresError) as exc:
        if isinstance(exc, socket.gaierror) or (isinstance(exc, OSError) and exc.errno in (
                errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL)):
            typer.echo(f"error: cannot listen on {config.host}:{config.port}: {exc.strerror}",
                       err=True)
            return ExitCode.USAGE
        typer.echo(f"error: database: {exc}", err=True)
        return ExitCode.DATABASE
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    return 0
