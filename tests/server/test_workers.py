"""``csms serve --workers 2``: two processes on one port, each a node; commands reach a station
on whichever process holds it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys

import asyncpg
from websockets.asyncio.client import ClientConnection, connect

from csms.operations import Operations, Status
from csms.store import commands, stations
from csms.store.db import open_pool
from csms.store.passwords import hash_password
from tests.server.conftest import BOOT, basic

PASSWORD = "workers-password-0123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def listening(port: int, process: asyncio.subprocess.Process) -> None:
    for _ in range(300):
        assert process.returncode is None, "csms serve exited"
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.1)
    raise AssertionError("csms serve did not listen")


async def answer(ws: ClientConnection, response: dict) -> list:
    call = json.loads(await asyncio.wait_for(ws.recv(), 10))
    await ws.send(json.dumps([3, call[1], response]))
    return call


async def test_two_workers_share_the_port_and_route_commands(database_url: str):
    pool = await open_pool(database_url, max_size=2)
    hashed = hash_password(PASSWORD, log2_n=10)
    ids = [f"W-{i:02d}" for i in range(24)]
    for identity in ids:
        await stations.register_station(pool, identity, None, password_hash=hashed)
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "csms", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--database-url", database_url, "--workers", "2", "--log-level", "warning",
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "CSMS_DATABASE_URL": ""})
    sockets: dict[str, ClientConnection] = {}
    try:
        await listening(port, process)
        await asyncio.sleep(1.0)  # the second worker may still be starting
        for identity in ids:
            ws = await connect(f"ws://127.0.0.1:{port}/ocpp/{identity}",
                               subprotocols=["ocpp2.0.1"],
                               additional_headers=basic(identity, PASSWORD))
            sockets[identity] = ws
            await ws.send(json.dumps([2, "b", "BootNotification", BOOT]))
            assert json.loads(await ws.recv())[2]["status"] == "Accepted"
        holders = dict(await pool.fetch(
            "SELECT id, node_id FROM stations WHERE id = ANY($1::text[])", ids))
        nodes = set(holders.values())
        # The kernel spreads 24 connections over both workers (all on one: p = 2**-23).
        assert len(nodes) == 2 and None not in nodes
        trigger = {"requestedMessage": "Heartbeat"}
        async with Operations(pool, database_url) as ops:
            for node in nodes:
                identity = next(i for i, n in holders.items() if n == node)
                command_id = await commands.submit_command(pool, identity, "TriggerMessage",
                                                           trigger)
                call = await answer(sockets[identity], {"status": "Accepted"})
                assert call[2] == "TriggerMessage"
                result = await ops.wait("TriggerMessage", trigger, [command_id], timeout=10)
                assert result.status is Status.ACCEPTED
                assert result.response == {"status": "Accepted"}
    finally:
        for ws in sockets.values():
            await ws.close()
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 60)
        stopped = await pool.fetchval("SELECT count(*) FROM nodes WHERE stopped_at IS NOT NULL")
        await pool.close()
    assert process.returncode == 0, err.decode()
    assert stopped == 2


async def test_workers_refuse_a_port_in_use_with_one_line(database_url: str):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "csms", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--database-url", database_url, "--workers", "2",
            stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL)
        _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode != 0
    lines = [line for line in err.decode().splitlines() if line.startswith("error:")]
    assert lines and "cannot listen" in lines[0] and "Traceback" not in err.decode()


async def test_nodes_of_both_workers_are_registered(database_url: str):
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "csms", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--database-url", database_url, "--workers", "2", "--log-level", "warning",
        stderr=asyncio.subprocess.DEVNULL)
    try:
        await listening(port, process)
        conn = await asyncpg.connect(database_url)
        try:
            for _ in range(100):
                running = await conn.fetch("SELECT node_id, pid FROM nodes"
                                           " WHERE stopped_at IS NULL")
                if len(running) == 2:
                    break
                await asyncio.sleep(0.1)
        finally:
            await conn.close()
        assert len(running) == 2
        assert len({r["pid"] for r in running}) == 2
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 60)
    assert process.returncode == 0
