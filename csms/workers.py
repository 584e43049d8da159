"""``csms serve --workers N``: N server processes on one port.

Each worker is a complete, independent node (its own event loop, database pool, node id and
command listener) on the shared PostgreSQL; the kernel spreads incoming connections over the
workers' listening sockets (``SO_REUSEPORT``). Nothing is shared between workers but the
database: an operator command reaches a station on whichever worker holds its socket through
LISTEN/NOTIFY, exactly as between nodes on different machines.

The parent process only supervises: it forwards SIGTERM/SIGINT, and when a worker exits on its
own it stops the others and exits with that worker's status, so that the service manager
restarts the whole set.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import resource
import signal
import socket
import sys
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType

from csms.config import ServerConfig

#: Runs one node in the current process and returns its exit status.
NodeRunner = Callable[[ServerConfig], int]

#: How long the parent holds the port while its workers start.
RESERVATION_SECONDS = 10.0


def reserve_port(host: str, port: int) -> socket.socket:
    """A bound, not listening, ``SO_REUSEPORT`` socket on ``host:port`` (port 0: any free one).

    Holding it while the workers start keeps the port ours; it never receives connections.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def worker_configs(config: ServerConfig, workers: int, port: int) -> list[ServerConfig]:
    """The configuration of each worker: same port with SO_REUSEPORT, a node id of its own."""
    return [
        dataclasses.replace(config, port=port, reuse_port=True,
                            node_id=f"{config.node_id}-{i}")
        for i in range(workers)
    ]


def tune_process() -> None:
    """Settings of a long-running server process that holds thousands of connections.

    - File descriptors: the soft limit is raised to the hard one (one per station socket).
    - Garbage collector: see :class:`GcPolicy`.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    from csms.ocppj import SUBPROTOCOLS, get_validator

    for version in SUBPROTOCOLS.values():
        get_validator(version).warm()
    from csms.gcpolicy import GcPolicy

    GcPolicy().install()


def _worker_main(config: ServerConfig, log_level: str, log_format: str,
                 runner: NodeRunner) -> None:
    from csms.logging import configure_logging

    configure_logging(log_level, log_format)
    sys.exit(runner(config))


def run_workers(config: ServerConfig, workers: int, runner: NodeRunner, *,
                log_level: str = "info", log_format: str = "console") -> int:
    """Run ``workers`` nodes as child processes until a signal or a worker's exit.

    Returns 0 after a clean, signalled stop; otherwise the exit status of the first worker that
    stopped by itself (the others are stopped too). ``runner`` must be importable by a spawned
    process (a module-level function).
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    reservation = reserve_port(config.host, config.port)
    port = reservation.getsockname()[1]
    context = multiprocessing.get_context("spawn")
    processes: list[BaseProcess] = [
        context.Process(target=_worker_main, args=(c, log_level, log_format, runner),
                        name=f"csms-worker-{i}", daemon=False)
        for i, c in enumerate(worker_configs(config, workers, port))
    ]
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for process in processes:
            process.start()
        status = 0
        release_at = time.monotonic() + RESERVATION_SECONDS
        while not stopping:
            exited = [p for p in processes if p.exitcode is not None]
            if exited:
                status = exited[0].exitcode or 1
                break
            time.sleep(0.2)
            if time.monotonic() > release_at:
                # The workers listen by now: the port no longer needs holding.
                reservation.close()
        _stop_all(processes)
        return status
    finally:
        reservation.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop_all(processes: list[BaseProcess], timeout: float = 30.0) -> None:
    for process in processes:
        if process.exitcode is None and process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.exitcode is None:
            process.kill()
            process.join()
