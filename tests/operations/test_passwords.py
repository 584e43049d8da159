"""Basic auth password rotation through the station (A01: TC_A_09, TC_A_10), end to end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from csms.ocppj import RpcConnection
from csms.server import CentralSystem
from csms.store import rotation, stations
from csms.store.commands import station_online
from csms.store.passwords import hash_password, verify_password
from simulators.station import Station, StationConfig
from tests.cli.conftest import run_cli_async
from tests.server.conftest import basic, endpoint
from tests.server.helpers import until

#: Fault tests log many tracebacks: plain lines keep them cheap.
pytestmark = pytest.mark.usefixtures("plain_logs")

OLD = "the-old-password-0001"
NEW = "the-new-password-0002"
BOOT = {"reason": "PowerUp", "chargingStation": {"model": "FE-20", "vendorName": "Fermata"}}


async def _login(node: CentralSystem, identity: str, password: str) -> ClientConnection:
    return await connect(f"{endpoint(node)}/{identity}", subprotocols=["ocpp2.0.1"],
                         additional_headers=basic(identity, password), open_timeout=10)


async def _refused(node: CentralSystem, identity: str, password: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        await _login(node, identity, password)
    return refused.value.response.status_code


@contextlib.asynccontextmanager
async def _station(node: CentralSystem, identity: str, password: str,
                   set_variables: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
                   ) -> AsyncIterator[RpcConnection]:
    """A hand-made station that answers SetVariables with ``set_variables``."""
    ws = await _login(node, identity, password)
    conn = RpcConnection(ws, "2.0.1", {"SetVariables": set_variables})
    reader = asyncio.create_task(conn.run())
    try:
        await conn.call("BootNotification", BOOT)
        yield conn
    finally:
        await ws.close()
        await reader


async def reject(payload: dict[str, Any]) -> dict[str, Any]:
    """A station's SetVariables answer refusing every value."""
    item = payload["setVariableData"][0]
    return {"setVariableResult": [{"component": item["component"], "variable": item["variable"],
                                   "attributeStatus": "Rejected"}]}


async def _credentials(node: CentralSystem, identity: str) -> tuple[bool, bool, str | None]:
    """(old password works, new password works, pending hash) as stored."""
    assert node.pool is not None
    known = await stations.get_station_credentials(node.pool, identity)
    assert known is not None and known.password_hash is not None
    _, pending = await rotation.password_hashes(node.pool, identity)
    return (verify_password(OLD, known.password_hash), verify_password(NEW, known.password_hash),
            pending)


async def test_tc_a_09_simulator_accepts_the_new_password_and_logs_in_with_it(
        csms: CentralSystem, database_url: str) -> None:
    assert csms.pool is not None
    await stations.register_station(csms.pool, "SIM-R1", OLD)
    station = Station(StationConfig("SIM-R1", endpoint(csms), password=OLD,
                                    backoff_min_s=0.2, backoff_random_s=0.2))
    task = asyncio.create_task(station.run())
    try:
        await until(lambda: station.online, what="station online")
        result = await run_cli_async("stations", "set-password", "SIM-R1", "--password", NEW,
                                     "--database-url", database_url)
        assert result.exit_code == 0, result.stderr
        assert "accepted" in result.stdout
        await until(lambda: station.stats.connects == 2 and station.online,
                    what="reconnect with the new password")
        assert await _credentials(csms, "SIM-R1") == (False, True, None)
        assert await _refused(csms, "SIM-R1", OLD) == 401
        # The plain password is not kept in the command table.
        payloads = await csms.pool.fetch("SELECT payload::text AS p FROM commands")
        assert payloads and not any(NEW in row["p"] for row in payloads)
    finally:
        station.stop()
        await task


async def test_tc_a_10_rejected_password_keeps_the_old_one(
        csms: CentralSystem, database_url: str) -> None:
    assert csms.pool is not None
    await stations.register_station(csms.pool, "CP-R2", OLD)

    async with _station(csms, "CP-R2", OLD, reject):
        result = await run_cli_async("stations", "set-password", "CP-R2", "--password", NEW,
                                     "--database-url", database_url)
    assert result.exit_code == 5, result.stderr
    assert "answered Rejected" in result.stderr and len(result.stderr.splitlines()) == 1
    assert await _credentials(csms, "CP-R2") == (True, False, None)
    # The station keeps logging in with its old password; the new one is refused.
    assert await _refused(csms, "CP-R2", NEW) == 401
    async with await _login(csms, "CP-R2", OLD):
        pass


async def test_login_with_the_pending_password_completes_the_rotation(
        csms: CentralSystem) -> None:
    assert csms.pool is not None
    await stations.register_station(csms.pool, "CP-R3", OLD)
    await rotation.begin_password_change(csms.pool, "CP-R3", hash_password(NEW))
    # While the rotation is under way the old password still works ...
    async with await _login(csms, "CP-R3", OLD):
        pass
    assert (await _credentials(csms, "CP-R3"))[:2] == (True, False)
    # ... and a login with the new one proves the station has it: it becomes the password.
    async with await _login(csms, "CP-R3", NEW):
        pass
    assert await _credentials(csms, "CP-R3") == (False, True, None)
    assert await _refused(csms, "CP-R3", OLD) == 401


async def test_unanswered_rotation_accepts_both_until_the_station_shows_which(
        csms: CentralSystem, database_url: str) -> None:
    assert csms.pool is not None
    await stations.register_station(csms.pool, "CP-R4", OLD)

    released = asyncio.Event()

    async def late(payload: dict[str, Any]) -> dict[str, Any]:
        await released.wait()  # no answer while the command waits
        return await reject(payload)

    async with _station(csms, "CP-R4", OLD, late):
        result = await run_cli_async("stations", "set-password", "CP-R4", "--password", NEW,
                                     "--timeout", "1", "--database-url", database_url)
        released.set()
    assert result.exit_code == 6, result.stderr
    assert "both passwords are accepted" in result.stderr
    old_ok, new_ok, pending = await _credentials(csms, "CP-R4")
    assert old_ok and not new_ok and pending is not None and verify_password(NEW, pending)


async def test_offline_flag_is_refused_for_a_connected_station(
        csms: CentralSystem, database_url: str) -> None:
    assert csms.pool is not None
    await stations.register_station(csms.pool, "CP-R5", OLD)
    async with await _login(csms, "CP-R5", OLD):
        await until(lambda: station_online(csms.pool, "CP-R5"), what="online")
        result = await run_cli_async("stations", "set-password", "CP-R5", "--password", NEW,
                                     "--offline", "--database-url", database_url)
    assert result.exit_code == 2 and "--offline" in result.stderr
    assert await _credentials(csms, "CP-R5") == (True, False, None)


async def test_disconnect_during_the_rotation_accepts_both_until_the_station_shows_which(
        csms: CentralSystem, database_url: str) -> None:
    """The station may have taken the new password before it dropped the connection."""
    assert csms.pool is not None
    await stations.register_station(csms.pool, "CP-R6", OLD)
    ws = await _login(csms, "CP-R6", OLD)

    async def drop(payload: dict[str, Any]) -> dict[str, Any]:
        await ws.close()
        return await reject(payload)  # never delivered

    conn = RpcConnection(ws, "2.0.1", {"SetVariables": drop})
    reader = asyncio.create_task(conn.run())
    await conn.call("BootNotification", BOOT)
    result = await run_cli_async("stations", "set-password", "CP-R6", "--password", NEW,
                                 "--database-url", database_url)
    await reader
    assert result.exit_code == 11, result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "disconnected before it answered" in result.stderr
    assert "both passwords are accepted" in result.stderr
    old_ok, new_ok, pending = await _credentials(csms, "CP-R6")
    assert old_ok and not new_ok and pending is not None and verify_password(NEW, pending)
