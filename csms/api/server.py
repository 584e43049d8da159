"""Running the API: one process, or ``--workers N`` processes sharing one listening socket
(uvicorn's supervisor), each with its own pool, operations client, feed hub and deliverer."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace

import asyncpg
import uvicorn
from fastapi import FastAPI

from csms.api.app import create_app
from csms.api.context import ApiSettings
from csms.api.health import create_probe_app

#: environment of the worker processes (``--workers N``)
WEBHOOKS_ENV = "CSMS_API_WEBHOOKS"
LEASE_ENV = "CSMS_API_WEBHOOK_LEASE"
DATABASE_ENV = "CSMS_DATABASE_URL"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (port 0: any free one); OSError when it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def app_from_env() -> FastAPI:
    """The app of a worker process, configured from its environment (uvicorn's factory)."""
    return create_app(ApiSettings(database_url=os.environ[DATABASE_ENV],
                                  webhooks=os.environ.get(WEBHOOKS_ENV, "1") == "1",
                                  lease_s=float(os.environ.get(LEASE_ENV, "30"))))


def run_api(settings: ApiSettings, sock: socket.socket, *, workers: int = 1,
            log_level: str = "info") -> None:
    """Serve the API on ``sock`` until SIGINT or SIGTERM."""
    common = {"log_config": None, "access_log": False, "log_level": log_level,
              "proxy_headers": True, "timeout_graceful_shutdown": 5, "lifespan": "on"}
    if workers == 1:
        config = uvicorn.Config(create_app(settings), **common)  # type: ignore[arg-type]
        uvicorn.Server(config).run(sockets=[sock])
        return
    directory = tempfile.mkdtemp(prefix="csms-api-metrics-")
    os.environ.update({DATABASE_ENV: settings.database_url, MULTIPROC_ENV: directory,
                       WEBHOOKS_ENV: "1" if settings.webhooks else "0",
                       LEASE_ENV: str(settings.lease_s)})
    try:
        # uvicorn's supervisor binds what it is given by file descriptor: our socket
        uvicorn.run("csms.api.server:app_from_env", factory=True, workers=workers,
                    fd=sock.fileno(), **common)  # type: ignore[arg-type]
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class _InLoop(uvicorn.Server):
    """A uvicorn server inside a process that handles its own signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def in_loop(app: FastAPI, host: str, port: int, *,
                  reuse_port: bool = False) -> AsyncIterator[int]:
    """Serve ``app`` on ``host:port`` in this event loop, beside other work of the process
    (which keeps its own signal handling); yields the port (port 0: any free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    server = _InLoop(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the HTTP server stopped while starting")
            await asyncio.sleep(0.02)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
        sock.close()


def probes(pool_of: Callable[[], asyncpg.Pool | None], host: str, port: int, *,
           reuse_port: bool = False) -> contextlib.AbstractAsyncContextManager[int]:
    """Serve /metrics, /healthz and /readyz (``csms serve --metrics-port``); worker processes
    share the port (SO_REUSEPORT), and whichever answers adds up every worker's metrics."""
    return in_loop(create_probe_app(pool_of), host, port, reuse_port=reuse_port)


def settings_for(database_url: str, **overrides: object) -> ApiSettings:
    """API settings on ``database_url`` with ``overrides``."""
    return replace(ApiSettings(database_url=database_url), **overrides)  # type: ignore[arg-type]
