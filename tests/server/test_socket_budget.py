"""A node keeps file descriptors for itself: past its budget of station sockets (its open-file
limit less ``FD_RESERVE``) a new station is refused with 503 and retries later, and the node
goes on working (its database connections, files and logs never find the limit reached)."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from csms.server import FD_RESERVE
from csms.store import stations
from csms.store.db import open_pool
from csms.store.passwords import hash_password
from tests.server.conftest import BOOT, basic
from tests.server.helpers import until
from tests.server.test_workers import free_port, listening

PASSWORD = "budget-password-0123"
BUDGET = 60  # station sockets the node may hold


async def test_stations_past_the_socket_budget_are_refused_and_the_node_keeps_working(
        database_url: str, tmp_path: Path):
    pool = await open_pool(database_url, max_size=2)
    await stations.register_station(pool, "FD-1", None,
                                    password_hash=hash_password(PASSWORD, log2_n=10))
    limit = FD_RESERVE + BUDGET

    def lower_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "csms", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--database-url", database_url, "--log-format", "json", "--log-level", "info",
            "--handshake-timeout", "120", stdout=log, stderr=log, preexec_fn=lower_limit,
            env={**os.environ, "CSMS_DATABASE_URL": ""})
    idle: list[asyncio.StreamWriter] = []
    url = f"ws://127.0.0.1:{port}/ocpp/FD-1"
    try:
        await listening(port, process)
        # Sockets that never finish their handshake fill the budget, and a few more.
        for _ in range(BUDGET + 5):
            idle.append((await asyncio.open_connection("127.0.0.1", port))[1])

        async def refused() -> bool:
            try:
                ws = await connect(url, subprotocols=["ocpp2.0.1"],
                                   additional_headers=basic("FD-1", PASSWORD), open_timeout=30)
            except InvalidStatus as exc:
                assert exc.response.status_code == 503
                return True
            await ws.close()  # the server had not accepted every idle socket yet
            return False

        await until(refused, 60, what="a station past the budget refused with 503")
        for writer in idle:
            writer.close()
        idle.clear()

        async def boots() -> bool:
            try:
                ws = await connect(url, subprotocols=["ocpp2.0.1"],
                                   additional_headers=basic("FD-1", PASSWORD), open_timeout=30)
            except InvalidStatus:
                return False  # the server has not seen every idle socket close yet
            async with ws:
                await ws.send(json.dumps([2, "b", "BootNotification", BOOT]))
                answer = json.loads(await asyncio.wait_for(ws.recv(), 30))
            return answer[2]["status"] == "Accepted"

        await until(boots, 60, what="the station accepted once the sockets closed")
        assert await pool.fetchval(
            "SELECT last_boot_at IS NOT NULL FROM stations WHERE id = 'FD-1'")
    finally:
        for writer in idle:
            writer.close()
        process.terminate()
        await asyncio.wait_for(process.wait(), 60)
        await pool.close()
    events = [json.loads(line) for line in log_path.read_text().splitlines()
              if line.startswith("{")]
    capped = [e for e in events if e.get("event") == "max_connections_capped"]
    assert capped and capped[0]["sockets"] == BUDGET
    assert any(e.get("event") == "handshake_refused" and e.get("reason") == "max_connections"
               for e in events)
    assert not any(e.get("level") == "error" for e in events), [
        e for e in events if e.get("level") == "error"][:3]
