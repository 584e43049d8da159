"""Prometheus metrics: ``csms serve --metrics-port`` (one process, and --workers 2 adding
up) and the API's own ``/metrics``, ``/healthz``, ``/readyz``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import sys
from collections.abc import AsyncIterator

import httpx
import pytest

from csms.store import stations
from csms.store.db import open_pool
from tests.api.conftest import Api, make_keys
from tests.api.processes import api_process, wait_ready
from tests.api.stations_live import PASSWORD, until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples with these labels (0 when there are none)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        match = re.match(rf"{re.escape(name)}(\{{.*\}})? (\S+)$", line)
        if match is None:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


@contextlib.asynccontextmanager
async def serve(database_url: str, *extra: str) -> AsyncIterator[tuple[int, str]]:
    """``csms serve`` in a process of its own; yields its OCPP port and metrics base URL."""
    port, metrics_port = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "csms", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--metrics-port", str(metrics_port), "--auto-register", "--log-level", "warning",
        "--database-url", database_url, *extra,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "CSMS_DATABASE_URL": ""})
    base = f"http://127.0.0.1:{metrics_port}"
    try:
        await wait_ready(base, 60, 0.2)
        yield port, base
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


async def connect(port: int, station_id: str) -> None:
    """A station that boots over real sockets (then stays connected until cancelled)."""
    from websockets.asyncio.client import connect as ws_connect

    from tests.server.conftest import BOOT, basic

    async with ws_connect(f"ws://127.0.0.1:{port}/ocpp/{station_id}",
                          subprotocols=["ocpp2.0.1"],
                          additional_headers=basic(station_id, PASSWORD)) as ws:
        await ws.send(f'[2, "1", "BootNotification", {BOOT!s}]'.replace("'", '"'))
        await ws.recv()
        await ws.send('[2, "2", "Heartbeat", {}]')
        await ws.recv()
        await asyncio.Event().wait()


@pytest.mark.parametrize("workers", [1, 2])
async def test_serve_metrics_add_up_over_workers(database_url: str, workers: int):
    async with serve(database_url, "--workers", str(workers)) as (port, base):
        clients = [asyncio.create_task(connect(port, f"M{n}")) for n in range(4)]
        try:
            async with httpx.AsyncClient(base_url=base) as http:
                async def all_counted():
                    text = (await http.get("/metrics")).text
                    done = sample(text, "csms_messages_total", action="Heartbeat") == 4
                    return text if done and sample(text, "csms_stations_connected") == 4 \
                        else None

                text = await until(all_counted, 30, 0.2)
                health = (await http.get("/healthz")).json()
        finally:
            for client in clients:
                client.cancel()
            await asyncio.gather(*clients, return_exceptions=True)
    assert health == {"status": "ok"}
    assert sample(text, "csms_messages_total", action="BootNotification", outcome="ok") == 4
    assert sample(text, "csms_message_seconds_count", action="BootNotification") == 4
    assert sample(text, "csms_messages_total", action="Heartbeat", outcome="ok") == 4
    assert sample(text, "csms_batch_size_count") >= 1
    # every group commit is timed too
    assert 1 <= sample(text, "csms_batch_seconds_count") <= sample(text, "csms_batch_size_count")
    # the collector policy's young collections (on its clock) are timed, summed over the workers
    assert sample(text, "csms_gc_pause_seconds_count", generation="0") >= workers


async def test_api_metrics_and_probes(api: Api):
    pool = await open_pool(api.database_url)
    try:
        await stations.register_station(pool, "CP-1", None, 0)
    finally:
        await pool.close()
    async with api.client("read") as http:
        for _ in range(3):
            assert (await http.get("/v1/stations/CP-1")).status_code == 200
        assert (await http.get("/v1/stations/NOPE")).status_code == 404
    async with api.client(None) as http:
        text = (await http.get("/metrics")).text
        ready = await http.get("/readyz")
    route = "/v1/stations/{station_id}"
    assert sample(text, "csms_api_requests_total", route=route, status="200") >= 3
    assert sample(text, "csms_api_requests_total", route=route, status="404") >= 1
    assert sample(text, "csms_api_request_seconds_count", route=route) >= 4
    assert "csms_webhook_backlog" in text
    assert ready.json() == {"status": "ok"}


async def test_api_workers_metrics_add_up(database_url: str):
    keys = await make_keys(database_url)
    async with api_process(database_url, "--workers", "2") as (_process, url), \
            httpx.AsyncClient(base_url=url,
                              headers={"Authorization": f"Bearer {keys['read']}"}) as http:
        for _ in range(20):
            # a new connection each time, so that both workers answer some
            assert (await http.get("/v1/stations", headers={"Connection": "close"})
                    ).status_code == 200
        text = (await http.get("/metrics")).text
    assert sample(text, "csms_api_requests_total", route="/v1/stations", status="200") == 20
