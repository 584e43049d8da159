"""A grid event survives the death of a node and a database restart: the control loop steps
again on a surviving node from the stored state, nothing is activated or counted twice, no EV is
forgotten, the stations of a dead node come back, and nothing a station was told is stored is
lost. Short events and few stations; ``tests/benchmarks/bench_grid_failover.py`` runs the 30-
station, 150 kW version and prints what each fault costs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from csms.grid.sending import dispatch_profile_id
from csms.operations import Status
from tests.server.cluster import Cluster
from tests.server.grid_failover import (
    FailoverResult,
    FailoverSettings,
    describe,
    run_failover,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("plain_logs")]

STATIONS = 6


def check_event(result: FailoverResult) -> None:
    """What every fault must leave intact."""
    print("\n" + "\n".join(describe(result)))
    assert result.status == "completed"
    # Every EV took part from start to end, and the last step gave each a setpoint.
    assert len(result.members) == STATIONS and result.forgotten == []
    # One activation: one event.started, one meter-rate raise per station.
    assert result.activations == 1
    assert set(result.meter_rate_raises.values()) == {1}, result.meter_rate_raises
    assert len(result.meter_rate_raises) == STATIONS
    # Every dispatch profile on an EVSE, whichever node sent it, had the same id.
    assert result.profile_ids and all(ids == {dispatch_profile_id(1)}
                                      for ids in result.profile_ids.values())
    for fault in result.faults:
        assert fault.step_again_s is not None, f"the loop never stepped after {fault.kind}"
    # Every TransactionEvent stored once, in order, with the simulator's own energy.
    assert result.audit.clean, result.audit
    assert result.lost == 0 and result.doubled == 0


async def test_workers_lose_the_dispatcher_and_then_most_sockets(database_url: str,
                                                                  tmp_path: Path) -> None:
    """``csms serve --workers 2``: SIGKILL the worker holding the dispatcher lock, then the one
    holding most sockets; the serve process starts each again."""
    settings = FailoverSettings(deployment="workers", stations=STATIONS, target_kw=30.0,
                                event_s=40.0, faults=((8.0, "leader"), (19.0, "sockets")))
    result = await run_failover(database_url, tmp_path, settings)
    check_event(result)
    leader, sockets = result.faults
    assert leader.was_leader and leader.leader_after not in (None, leader.node)
    assert sockets.sockets >= STATIONS // 2 and sockets.dropped == sockets.sockets
    assert len(sockets.back_s) == sockets.dropped  # every station came back
    # The command queued for a station of the dead worker reached it once it was back.
    assert sockets.queued_command is Status.ACCEPTED
    # The supervisor started the killed workers again, as new nodes.
    assert len(result.nodes) == 2
    assert leader.node not in result.nodes and sockets.node not in result.nodes


async def test_two_serve_processes_lose_the_database_then_the_leader(
        cluster: Cluster, tmp_path: Path) -> None:
    """Two ``csms serve`` processes behind a balancer on a PostgreSQL that is restarted under
    them: the database stops and starts (sockets stay open), then the dispatcher's process is
    SIGKILLed (and started again, as systemd would)."""
    admin = await asyncpg.connect(cluster.url("postgres"))
    await admin.execute("CREATE DATABASE csms")
    await admin.close()
    settings = FailoverSettings(deployment="nodes", stations=STATIONS, target_kw=30.0,
                                event_s=33.0, faults=((8.0, "database"), (18.0, "leader")))
    result = await asyncio.wait_for(run_failover(cluster.url("csms"), tmp_path, settings,
                                                 cluster=cluster), 300)
    check_event(result)
    database, leader = result.faults
    assert leader.was_leader and leader.leader_after is not None
    assert leader.dropped == leader.sockets and len(leader.back_s) == leader.dropped
    # The database restart cost no station its socket.
    assert database.dropped == 0
    assert len(result.nodes) == 2 and leader.node not in result.nodes
