"""Helpers for the fault and limit tests: a CSMS in a real subprocess, polling, raw clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import structlog

#: Generous: the machine running the tests may be loaded; nothing asserts on speed.
DEADLINE_S = 60.0


async def until(predicate: Callable[[], Any | Awaitable[Any]], timeout: float = DEADLINE_S,
                what: str = "condition", step: float = 0.05) -> Any:
    """Poll ``predicate`` (plain or async) until it is truthy; returns its value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:g} s")
        await asyncio.sleep(step)


@contextlib.contextmanager
def plain_logging() -> Iterator[None]:
    """Log as plain key=value lines while the block runs.

    Faults make the CSMS log many tracebacks; one line each keeps the captured output of
    such tests short.
    """
    saved = structlog.get_config()
    structlog.configure(processors=[
        structlog.processors.add_log_level, structlog.processors.format_exc_info,
        structlog.processors.KeyValueRenderer(key_order=["event", "level"])])
    try:
        yield
    finally:
        structlog.configure(**saved)


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CsmsProcess:
    """``python -m csms serve`` as a child process, its log (JSON lines) in a file."""

    def __init__(self, database_url: str, log_path: Path, port: int | None = None,
                 *extra: str, url_in_env: bool = False) -> None:
        self.database_url = database_url
        #: pass the URL as CSMS_DATABASE_URL (as a service unit would) rather than the option
        self.url_in_env = url_in_env
        self.log_path = log_path
        self.port = port or free_port()
        self.extra = list(extra)
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """The OCPP endpoint; a station appends ``/<identity>``."""
        return f"ws://127.0.0.1:{self.port}/ocpp"

    async def start(self) -> None:
        """Start the server and wait until it accepts TCP connections."""
        log = self.log_path.open("ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("CSMS_DATABASE_URL", None)
        database = ["--database-url", self.database_url]
        if self.url_in_env:
            env["CSMS_DATABASE_URL"], database = self.database_url, []
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "csms", "serve", "--host", "127.0.0.1", "--port",
            str(self.port), *database, "--log-format", "json",
            *self.extra, stdout=log, stderr=asyncio.subprocess.STDOUT, env=env)
        log.close()
        await until(self._listening, what="csms serve listening")

    async def _listening(self) -> bool:
        assert self.proc is not None
        if self.proc.returncode is not None:
            raise AssertionError(f"csms serve exited with {self.proc.returncode}:\n"
                                 + self.log_path.read_text(errors="replace")[-3000:])
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            writer.close()
            return True
        return False

    async def kill(self) -> None:
        """SIGKILL: the process dies at once, finishing nothing."""
        assert self.proc is not None
        self.proc.kill()
        await self.proc.wait()

    async def terminate(self, timeout: float = DEADLINE_S) -> int:
        """SIGTERM, then wait for the exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def stop(self) -> None:
        """Make sure the child is gone (test teardown)."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    def log_lines(self) -> list[str]:
        """Every line the process wrote so far."""
        return self.log_path.read_text(errors="replace").splitlines()

    def events(self, name: str) -> list[dict[str, Any]]:
        """The JSON log events named ``name``."""
        found = []
        for line in self.log_lines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and event.get("event") == name:
                    found.append(event)
        return found
