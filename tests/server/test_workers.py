"""``csms serve --workers 2``: two processes on one port, each a node; commands reach a station
on whichever process holds it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
import socket
import sys
import time

import asyncpg
from websockets.asyncio.client import ClientConnection, connect

from csms.config import ServerConfig
from csms.operations import Operations, Status
from csms.store import commands, stations
from csms.store.commands import node_alive
from csms.store.db import open_pool
from csms.store.passwords import hash_password
from csms.workers import RestartPolicy, Supervisor
from tests.server.conftest import BOOT, basic
from tests.server.helpers import until

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
        # Both workers registered as nodes (each does so just before it listens), then a moment
        # for the later one to reach its listen.
        await until(lambda: pool.fetchval(
            f"SELECT count(*) = 2 FROM nodes n WHERE {node_alive()}"), 60,
            what="both workers registered")
        await asyncio.sleep(1.0)
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


# -- the supervisor's restart policy, with real child processes (no database) --------------

def _serve(config) -> None:
    """A worker that runs until it is killed, unless its node id says it must fail."""
    if config.node_id.endswith(".1") and config.node_id.startswith("db"):
        sys.exit(9)  # restarted while the database is down
    if config.node_id.startswith("bad"):
        sys.exit(2)
    time.sleep(60)


def _supervised(ids: list[str], **policy):
    context = multiprocessing.get_context("fork")

    def start(config):
        process = context.Process(target=_serve, args=(config,), daemon=True)
        process.start()
        return process

    configs = [ServerConfig(database_url="postgresql://unused", node_id=i) for i in ids]
    return Supervisor(configs, start, RestartPolicy(**{
        "min_uptime_s": 0.5, "backoff_s": 0.05, "max_backoff_s": 0.2, **policy}))


def _poll_until(supervisor, predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = supervisor.poll()
        if status is not None or predicate():
            return status
        time.sleep(0.02)
    raise AssertionError("the supervisor did not get there")


def _kill_all(supervisor) -> None:
    for process in supervisor.processes:
        if process.exitcode is None:
            process.kill()
            process.join()


def test_supervisor_starts_a_killed_worker_again_as_a_new_node() -> None:
    supervisor = _supervised(["w-0", "w-1"])
    try:
        time.sleep(0.6)  # past the start-up time
        victim = supervisor.processes[0]
        os.kill(victim.pid, signal.SIGKILL)
        status = _poll_until(supervisor, lambda: supervisor.slots[0].process is not victim
                             and supervisor.processes[0].is_alive())
        assert status is None
        assert supervisor.slots[0].config.node_id == "w-0.1"
        assert supervisor.slots[1].process.is_alive() and supervisor.slots[1].generation == 0
    finally:
        _kill_all(supervisor)


def test_supervisor_stops_the_set_when_a_worker_fails_at_start() -> None:
    supervisor = _supervised(["w-0", "bad-1"])
    try:
        assert _poll_until(supervisor, lambda: False) == 2
    finally:
        _kill_all(supervisor)


def test_supervisor_retries_a_restarted_worker_while_the_database_is_down() -> None:
    supervisor = _supervised(["db-0"], retry_statuses=frozenset({9}), max_restarts=3)
    try:
        time.sleep(0.6)
        os.kill(supervisor.processes[0].pid, signal.SIGKILL)
        # db-0.1 exits 9 at once: retried (db-0.2 runs), not taken for a failed start
        status = _poll_until(supervisor, lambda: supervisor.slots[0].generation == 2
                             and supervisor.processes[0].is_alive())
        assert status is None
    finally:
        _kill_all(supervisor)


def test_supervisor_gives_up_when_workers_keep_dying() -> None:
    supervisor = _supervised(["w-0"], max_restarts=2, min_uptime_s=0.2)
    try:
        status = None
        for _ in range(3):
            time.sleep(0.3)
            _poll_until(supervisor, lambda: supervisor.processes[0].is_alive())
            time.sleep(0.3)
            os.kill(supervisor.processes[0].pid, signal.SIGKILL)
            supervisor.processes[0].join()
            status = _poll_until(supervisor, lambda: supervisor.slots[0].restart_at is not None)
            if status is not None:
                break
        assert status == 128 + signal.SIGKILL
        assert supervisor.slots[0].generation == 2
    finally:
        _kill_all(supervisor)
