"""``csms api`` in processes of their own, for the tests that kill or scale them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from collections.abc import AsyncIterator

import httpx

from tests.api.stations_live import until


async def wait_ready(base_url: str, timeout: float, interval: float) -> None:
    """Poll ``<base_url>/readyz`` until it answers 200; fail after ``timeout`` seconds."""
    async with httpx.AsyncClient() as http:
        async def ready():
            with contextlib.suppress(httpx.HTTPError):
                return (await http.get(base_url + "/readyz")).status_code == 200
            return False

        await until(ready, timeout, interval)


@contextlib.asynccontextmanager
async def api_process(database_url: str, *extra: str
                      ) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """``csms api`` in a process of its own on a free port; yields it and its URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "csms", "api", "--port", "0", "--webhook-lease", "2",
        "--log-level", "warning", "--database-url", database_url, *extra,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "CSMS_DATABASE_URL": ""})
    assert process.stderr is not None
    line = (await asyncio.wait_for(process.stderr.readline(), 30)).decode()
    match = re.search(r"http://[0-9.]+:\d+", line)
    assert match, line
    url = match.group(0)
    await wait_ready(url, 30, 0.1)
    try:
        yield process, url
    finally:
        if process.returncode is None:
            process.terminate()  # workers, if any, stop with their supervisor
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()
