"""``csms demo`` starts the HTTP API beside the fleet and prints its URL and a key that
works."""

from __future__ import annotations

import asyncio
import os
import re
import sys

import httpx


async def test_demo_prints_a_working_api_url_and_key(database_url: str):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "csms", "demo", "--stations", "2", "--port", "0",
        "--api-port", "0", "--duration", "120", "--database-url", database_url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "CSMS_DATABASE_URL": ""})
    assert process.stdout is not None
    try:
        line = ""
        while "HTTP API on" not in line:
            line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
            assert line, "the demo ended without printing the API"
        match = re.search(r"HTTP API on (http://\S+) .*admin key: (csms_\S+)", line)
        assert match, line
        url, key = match.groups()
        # Keep reading what the demo prints, so a full pipe never stalls it.
        drain = asyncio.create_task(process.stdout.read())
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            refused = await http.get("/v1/stations")
            for _ in range(100):  # the fleet registers once the API is up
                listed = await http.get("/v1/stations",
                                        headers={"Authorization": f"Bearer {key}"})
                assert listed.status_code == 200
                ids = {s["id"] for s in listed.json()["items"]}
                if len(ids) == 2:
                    break
                await asyncio.sleep(0.1)
        drain.cancel()
        assert ids == {"DEMO-1", "DEMO-2"}
        assert refused.status_code == 401
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
