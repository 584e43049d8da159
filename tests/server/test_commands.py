"""Operator commands through the database: the CLI's row reaches the station on whichever node
holds its socket, and the answer comes back."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta

import asyncpg

from csms.config import ServerConfig
from csms.operations import Status
from csms.server import CentralSystem
from csms.store import commands, stations
from csms.store.db import application
from tests.server.conftest import PASSWORD, open_station

TRIGGER = {"requestedMessage": "Heartbeat"}


async def answer_next_call(ws, response: dict) -> list:
    """Read the next CALL the CSMS sends and answer it; returns the CALL (the wait includes a
    CLI process's start-up, seconds on a loaded machine)."""
    call = json.loads(await asyncio.wait_for(ws.recv(), 45))
    await ws.send(json.dumps([3, call[1], response]))
    return call


async def reset_received(csms: CentralSystem, station_id: str, ws) -> tuple[int, list]:
    """Submit an immediate Reset to a connected station: the command's id and the CALL the
    station received."""
    await csms.sessions[station_id].ready.wait()
    command_id = await commands.submit_command(csms.pool, station_id, "Reset",
                                               {"type": "Immediate"})
    return command_id, json.loads(await asyncio.wait_for(ws.recv(), 10))


async def run_cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "csms", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "CSMS_DATABASE_URL": ""},
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode(), err.decode()


async def test_cli_call_reaches_the_station_and_prints_its_answer(
    csms: CentralSystem, station_id: str, database_url: str
):
    async with await open_station(csms, station_id) as ws:
        await csms.sessions[station_id].ready.wait()
        station = asyncio.create_task(answer_next_call(ws, {"status": "Scheduled"}))
        code, out, err = await run_cli("call", station_id, "Reset", "--payload",
                                       '{"type": "OnIdle"}', "--json",
                                       "--database-url", database_url)
        call = await station
        assert call[0] == 2 and call[2] == "Reset" and call[3] == {"type": "OnIdle"}
        assert code == 0, err
        assert json.loads(out) == {"status": "Scheduled"}


async def test_cli_call_to_offline_station_fails_at_once(
    csms: CentralSystem, station_id: str, database_url: str
):
    code, _, err = await run_cli("call", station_id, "Reset", "--payload", '{"type": "OnIdle"}',
                                 "--database-url", database_url)
    assert code != 0
    assert len(err.strip().splitlines()) == 1 and "not connected" in err
    assert "Traceback" not in err


async def test_station_callerror_is_reported_with_its_code(
    csms: CentralSystem, station_id: str
):
    async with await open_station(csms, station_id) as ws:
        command_id, call = await reset_received(csms, station_id, ws)
        await ws.send(json.dumps([4, call[1], "NotSupported", "no resets today", {}]))
        result = await csms.operations.wait("Reset", {"type": "Immediate"}, [command_id],
                                            timeout=10)
        assert result.status is Status.CALLERROR and result.error_code == "NotSupported"
        assert result.reason == "no resets today"


async def test_station_disconnecting_during_a_call_is_a_disconnect(
    csms: CentralSystem, station_id: str
):
    async with await open_station(csms, station_id) as ws:
        command_id, call = await reset_received(csms, station_id, ws)
        assert call[2] == "Reset"
    result = await csms.operations.wait("Reset", {"type": "Immediate"}, [command_id], timeout=10)
    assert result.status is Status.DISCONNECTED
    assert result.error_code is None


async def test_cli_call_reports_a_disconnect_not_a_callerror(
    csms: CentralSystem, station_id: str, database_url: str
):
    async def drop_on_call(ws) -> None:
        await asyncio.wait_for(ws.recv(), 30)
        await ws.close()

    async with await open_station(csms, station_id) as ws:
        await csms.sessions[station_id].ready.wait()
        station = asyncio.create_task(drop_on_call(ws))
        code, _, err = await run_cli("call", station_id, "Reset", "--payload",
                                     '{"type": "OnIdle"}', "--database-url", database_url)
        await station
    assert code == 11, err
    assert len(err.strip().splitlines()) == 1
    assert "disconnected before it answered Reset" in err and "CALLERROR" not in err


async def test_queued_command_is_sent_when_the_station_connects(
    csms: CentralSystem, station_id: str
):
    until = datetime.now(UTC) + timedelta(minutes=5)
    command_id = await commands.submit_command(
        csms.pool, station_id, "TriggerMessage", TRIGGER, queue_until=until)
    early = await csms.operations.wait("TriggerMessage", TRIGGER, [command_id], timeout=0.5)
    assert early.status is Status.QUEUED
    async with await open_station(csms, station_id) as ws:
        call = await answer_next_call(ws, {"status": "Accepted"})
        assert call[2] == "TriggerMessage"
        result = await csms.operations.wait("TriggerMessage", TRIGGER, [command_id], timeout=10)
        assert result.status is Status.ACCEPTED and result.response == {"status": "Accepted"}


async def test_expired_queued_command_is_never_sent(
    csms: CentralSystem, station_id: str
):
    past = datetime.now(UTC) - timedelta(seconds=1)
    command_id = await commands.submit_command(
        csms.pool, station_id, "Reset", {"type": "Immediate"}, queue_until=past)
    assert await commands.expire_queued(csms.pool) == 1
    async with await open_station(csms, station_id) as ws:
        answer = await asyncio.wait_for(
            _heartbeat_then_read(ws), 5)
        assert answer[0] == 3  # the first frame from the CSMS is our heartbeat's answer
    result = await csms.operations.wait("Reset", {"type": "Immediate"}, [command_id], timeout=1)
    assert result.status is Status.EXPIRED


async def _heartbeat_then_read(ws) -> list:
    await ws.send(json.dumps([2, "hb", "Heartbeat", {}]))
    return json.loads(await ws.recv())


async def test_command_reaches_the_station_on_another_node(
    server_config: ServerConfig,
):
    node_a = CentralSystem(server_config)
    node_b = CentralSystem(ServerConfig(**{**server_config.__dict__, "node_id": "node-b"}))
    await node_a.start()
    await node_b.start()
    try:
        await stations.register_station(node_a.pool, "CP-X", PASSWORD)
        async with await open_station(node_b, "CP-X") as ws:
            await node_b.sessions["CP-X"].ready.wait()
            assert await commands.station_online(node_a.pool, "CP-X")
            command_id = await commands.submit_command(node_a.pool, "CP-X", "Reset",
                                                       {"type": "Immediate"})
            await answer_next_call(ws, {"status": "Accepted"})
            result = await node_a.operations.wait("Reset", {"type": "Immediate"}, [command_id],
                                                  timeout=10)
            assert result.status is Status.ACCEPTED
            assert "CP-X" not in node_a.sessions
    finally:
        await node_b.stop()
        await node_a.stop()


async def test_reconnect_to_another_node_closes_the_old_socket(
    server_config: ServerConfig,
):
    node_a = CentralSystem(server_config)
    node_b = CentralSystem(ServerConfig(**{**server_config.__dict__, "node_id": "node-b"}))
    await node_a.start()
    await node_b.start()
    try:
        await stations.register_station(node_a.pool, "CP-Y", PASSWORD)
        old = await open_station(node_a, "CP-Y")
        new = await open_station(node_b, "CP-Y")
        await asyncio.wait_for(old.wait_closed(), 5)
        assert "CP-Y" not in node_a.sessions and "CP-Y" in node_b.sessions
        detail = await stations.get_station(node_a.pool, "CP-Y")
        assert detail.node_id == "node-b"
        await new.close()
    finally:
        await node_b.stop()
        await node_a.stop()


async def test_command_sent_by_a_node_that_died_ends_as_a_timeout(
    csms: CentralSystem, station_id: str
):
    await commands.register_node(csms.pool, "dead-node")
    command_id = await commands.submit_command(csms.pool, station_id, "Reset",
                                               {"type": "Immediate"})
    claimed = await commands.claim_command(csms.pool, command_id, "dead-node")
    assert claimed is not None
    assert await commands.fail_orphaned(csms.pool) == 0  # its node is still alive
    await commands.node_stopped(csms.pool, "dead-node")
    assert await commands.fail_orphaned(csms.pool) == 1
    result = await csms.operations.wait("Reset", {"type": "Immediate"}, [command_id], timeout=2)
    assert result.status is Status.TIMEOUT and "stopped" in result.reason


async def test_command_sent_by_a_node_whose_process_is_gone_fails_within_a_heartbeat(
    csms: CentralSystem, station_id: str, database_url: str
):
    """A node whose heartbeat is a period old and that holds no LISTEN connection is gone (a
    SIGKILLed process): its sent commands fail long before its heartbeat is stale; a node that
    still holds its LISTEN connection is not taken for dead."""
    for node in ("killed-node", "busy-node"):
        await commands.register_node(csms.pool, node)
    ids = {}
    for node in ("killed-node", "busy-node"):
        ids[node] = await commands.submit_command(csms.pool, station_id, "Reset",
                                                  {"type": "Immediate"})
        assert await commands.claim_command(csms.pool, ids[node], node) is not None
    listener = await asyncpg.connect(
        database_url, **application(commands.listener_application("busy-node")))
    try:
        await csms.pool.execute(
            "UPDATE nodes SET heartbeat_at = now() - interval '6 seconds'"
            " WHERE node_id IN ('killed-node', 'busy-node')")
        assert await commands.fail_orphaned(csms.pool) == 1
        result = await csms.operations.wait("Reset", {"type": "Immediate"},
                                            [ids["killed-node"]], timeout=2)
        assert result.status is Status.TIMEOUT
        status = await csms.pool.fetchval("SELECT status FROM commands WHERE id = $1",
                                          ids["busy-node"])
        assert status == "sent"
    finally:
        await listener.close()


async def test_a_burst_of_commands_is_claimed_together_and_each_station_gets_its_own_in_order(
    csms: CentralSystem, station_id: str
):
    """A fleet-wide dispatch arrives as one burst of notifications, claimed in one statement;
    two commands for the same station still go out one after the other, oldest first, and a
    command for a station this node does not hold stays pending."""
    await stations.register_station(csms.pool, "CP-AWAY", PASSWORD)
    async with await open_station(csms, station_id) as ws:
        await csms.sessions[station_id].ready.wait()
        first = await commands.submit_commands(
            csms.pool, [station_id, "CP-AWAY"], "Reset", {"type": "OnIdle"})
        second = await commands.submit_commands(
            csms.pool, [station_id], "TriggerMessage", TRIGGER)
        call = await answer_next_call(ws, {"status": "Accepted"})
        assert call[2:] == ["Reset", {"type": "OnIdle"}]
        call = await answer_next_call(ws, {"status": "Accepted"})
        assert call[2:] == ["TriggerMessage", TRIGGER]
        done = await csms.operations.wait("Reset", {"type": "OnIdle"}, first[:1], timeout=10)
        assert done.status is Status.ACCEPTED
        done = await csms.operations.wait("TriggerMessage", TRIGGER, second, timeout=10)
        assert done.status is Status.ACCEPTED
    row = await csms.pool.fetchrow(
        "SELECT status, node_id FROM commands WHERE id = $1", first[1])
    assert tuple(row) == ("pending", None)


async def test_a_command_claimed_for_a_station_that_left_goes_back_to_the_queue(
    csms: CentralSystem, station_id: str
):
    [command_id] = await commands.submit_commands(
        csms.pool, [station_id], "Reset", {"type": "OnIdle"},
        queue_until=datetime.now(UTC) + timedelta(minutes=5))
    [claimed] = await commands.claim_commands(csms.pool, [command_id], "node-z")
    assert (claimed.id, claimed.station_id, claimed.action) == (command_id, station_id, "Reset")
    assert await commands.claim_commands(csms.pool, [command_id], "node-y") == []
    await commands.unclaim_command(csms.pool, command_id, "node-y")  # not its claim: no change
    assert await csms.pool.fetchval(
        "SELECT node_id FROM commands WHERE id = $1", command_id) == "node-z"
    await commands.unclaim_command(csms.pool, command_id, "node-z")
    # Back in the queue: it goes out when the station connects.
    async with await open_station(csms, station_id) as ws:
        call = await answer_next_call(ws, {"status": "Accepted"})
        assert call[2] == "Reset"
