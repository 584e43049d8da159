"""``csms serve --workers N``: N server processes on one port.

Each worker is a complete, independent node (its own event loop, database pool, node id and
command listener) on the shared PostgreSQL; the kernel spreads incoming connections over the
workers' listening sockets (``SO_REUSEPORT``). Nothing is shared between workers but the
database: an operator command reaches a station on whichever worker holds its socket through
LISTEN/NOTIFY, exactly as between nodes on different machines.

The parent process only supervises (:class:`Supervisor`): it forwards SIGTERM/SIGINT, and it
starts again a worker that dies (SIGKILL, the OOM killer, a crash) after it had served for a
while, as a fresh node with a node id of its own, so that the rest of the set keeps serving.
A worker that fails soon after it started (a wrong setting, the database unreachable at start)
or workers that keep dying (more than ``max_restarts`` in ``restart_window_s``) make the parent
stop the others and exit with that worker's status: that is a fault for the service manager to
report, and for its own restart policy (systemd ``Restart=``, a Kubernetes pod) to handle.
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

import structlog

from csms.config import ServerConfig

log = structlog.get_logger("csms.workers")

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


@dataclasses.dataclass(frozen=True)
class RestartPolicy:
    """When the parent starts a dead worker again.

    A worker that exits within ``min_uptime_s`` of its start failed to start: the set stops,
    except for a worker started again (not one of the first set) that exits with one of
    ``retry_statuses`` (the database unreachable: a worker that died during a database
    restart comes back once the database does). Otherwise it is started again after
    ``backoff_s`` (doubled after each restart within the window, at most ``max_backoff_s``),
    unless that would be more than ``max_restarts`` restarts within ``restart_window_s``: then
    the set stops, and the service manager takes over.
    """

    min_uptime_s: float = RESERVATION_SECONDS
    backoff_s: float = 0.5
    max_backoff_s: float = 10.0
    max_restarts: int = 5
    restart_window_s: float = 300.0
    retry_statuses: frozenset[int] = frozenset()


@dataclasses.dataclass
class _Slot:
    """One worker position: its current process and its history."""

    index: int
    config: ServerConfig
    process: BaseProcess
    started_at: float
    base_id: str = ""
    generation: int = 0
    restart_at: float | None = None


def _status(process: BaseProcess) -> int:
    """A worker's exit status as a shell reports it (128 + signal for a signalled death)."""
    code = process.exitcode
    if code is None or code == 0:
        return 1  # a worker never exits 0 on its own: the parent decides when the set stops
    return 128 - code if code < 0 else code


class Supervisor:
    """Runs the worker processes of ``run_workers``; see the module docstring."""

    def __init__(self, configs: list[ServerConfig], start: Callable[[ServerConfig], BaseProcess],
                 policy: RestartPolicy) -> None:
        self.policy = policy
        self._start = start
        self._restarts: list[float] = []
        now = time.monotonic()
        self.slots = [_Slot(i, c, start(c), now, c.node_id) for i, c in enumerate(configs)]

    @property
    def processes(self) -> list[BaseProcess]:
        """The current process of every worker."""
        return [slot.process for slot in self.slots]

    def poll(self) -> int | None:
        """Look after the workers once: start again those due; None while the set runs, else
        the exit status of the set (a worker failed to start, or the restart limit is hit)."""
        now = time.monotonic()
        for slot in self.slots:
            if slot.restart_at is not None:
                if now >= slot.restart_at:
                    self._respawn(slot, now)
                continue
            if slot.process.exitcode is None:
                continue
            status = _status(slot.process)
            uptime = now - slot.started_at
            log.warning("worker_exited", worker=slot.index, node_id=slot.config.node_id,
                        pid=slot.process.pid, status=status, uptime_s=round(uptime, 1))
            if uptime < self.policy.min_uptime_s and (
                    slot.generation == 0 or status not in self.policy.retry_statuses):
                log.error("worker_failed_at_start", worker=slot.index, status=status)
                return status
            window = now - self.policy.restart_window_s
            self._restarts = [t for t in self._restarts if t > window]
            if len(self._restarts) >= self.policy.max_restarts:
                log.error("workers_keep_dying", restarts=len(self._restarts),
                          window_s=self.policy.restart_window_s)
                return status
            delay = min(self.policy.max_backoff_s,
                        self.policy.backoff_s * 2 ** len(self._restarts))
            self._restarts.append(now)
            slot.restart_at = now + delay
        return None

    def _respawn(self, slot: _Slot, now: float) -> None:
        slot.generation += 1
        # A node id of its own: the dead one's stations and sent commands stay recorded
        # under the old id, which every other node now sees as dead.
        slot.config = dataclasses.replace(slot.config,
                                          node_id=f"{slot.base_id}.{slot.generation}")
        slot.process = self._start(slot.config)
        slot.started_at, slot.restart_at = now, None
        log.info("worker_restarted", worker=slot.index, node_id=slot.config.node_id,
                 pid=slot.process.pid)


def run_workers(config: ServerConfig, workers: int, runner: NodeRunner, *,
                log_level: str = "info", log_format: str = "console",
                policy: RestartPolicy | None = None) -> int:
    """Run ``workers`` nodes as child processes until a signal, restarting dead ones.

    Returns 0 after a clean, signalled stop; otherwise the exit status of the worker that made
    the set stop (see :class:`RestartPolicy`; the others are stopped too). ``runner`` must be
    importable by a spawned process (a module-level function).
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    reservation = reserve_port(config.host, config.port)
    port = reservation.getsockname()[1]
    context = multiprocessing.get_context("spawn")

    def start(c: ServerConfig) -> BaseProcess:
        process = context.Process(target=_worker_main, args=(c, log_level, log_format, runner),
                                  name=f"csms-worker-{c.node_id}", daemon=False)
        process.start()
        return process

    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    supervisor: Supervisor | None = None
    try:
        supervisor = Supervisor(worker_configs(config, workers, port), start,
                                policy or RestartPolicy())
        status = 0
        release_at = time.monotonic() + RESERVATION_SECONDS
        while not stopping:
            failed = supervisor.poll()
            if failed is not None:
                status = failed
                break
            time.sleep(0.2)
            if time.monotonic() > release_at:
                # The workers listen by now: the port no longer needs holding (a restarted
                # worker binds next to the others, which hold it).
                reservation.close()
        _stop_all(supervisor.processes)
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
        if process.pid is None:
            continue
        process.join(max(0.0, deadline - time.monotonic()))
        if process.exitcode is None:
            process.kill()
            process.join()
