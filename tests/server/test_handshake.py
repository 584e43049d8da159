"""Opening handshake: identity, subprotocol, compression, Basic auth (TC_A_01..03), takeover."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from csms.handshake import choose_subprotocol, identity_from_path
from csms.server import CentralSystem
from csms.store import stations
from tests.server.conftest import BOOT, exchange, open_station, url


@pytest.mark.parametrize(
    ("path", "identity"),
    [
        ("/ocpp/CP-1", "CP-1"),
        ("/CP%2F1", "CP/1"),
        ("/a/b/c/St%C3%A4tion", "Stätion"),
        ("/ocpp/CP-1?x=1", "CP-1"),
        ("/" + "x" * 48, "x" * 48),
        ("/" + "x" * 49, None),
        ("/ocpp/", None),
        ("/ocpp/CP%3A1", None),
        ("/ocpp/CP:1", None),
        ("/ocpp/CP%201", None),
    ],
)
def test_identity_is_the_percent_decoded_last_path_segment(path: str, identity: str | None):
    assert identity_from_path(path) == identity


def test_subprotocol_follows_the_clients_preference() -> None:
    assert choose_subprotocol(["ocpp2.1", "ocpp2.0.1"]) == "ocpp2.1"
    assert choose_subprotocol(["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]) == "ocpp2.0.1"
    assert choose_subprotocol(["ocpp1.6"]) is None


async def test_tc_a_01_basic_auth_valid_credentials_connect(csms: CentralSystem, station_id: str):
    async with await open_station(csms, station_id) as ws:
        assert ws.subprotocol == "ocpp2.0.1"
        answer = await exchange(ws, [2, "b1", "BootNotification", BOOT])
        assert answer[0] == 3 and answer[2]["status"] == "Accepted"
    detail = await stations.get_station(csms.pool, station_id)
    assert detail is not None


async def test_tc_a_02_username_not_equal_to_station_id_is_refused(
    csms: CentralSystem, station_id: str
):
    with pytest.raises(InvalidStatus) as refused:
        await open_station(csms, station_id, username="CP-2")
    assert refused.value.response.status_code == 401
    assert "Basic" in refused.value.response.headers["WWW-Authenticate"]


async def test_tc_a_03_invalid_password_is_refused(csms: CentralSystem, station_id: str):
    with pytest.raises(InvalidStatus) as refused:
        await open_station(csms, station_id, password="wrong-password-123")
    assert refused.value.response.status_code == 401


async def test_unknown_station_is_refused_before_the_upgrade(csms: CentralSystem):
    with pytest.raises(InvalidStatus) as refused:
        await open_station(csms, "CP-404")
    assert refused.value.response.status_code == 401
    assert await stations.get_station_credentials(csms.pool, "CP-404") is None


async def test_missing_credentials_are_refused(csms: CentralSystem, station_id: str):
    with pytest.raises(InvalidStatus) as refused:
        await connect(url(csms, station_id), subprotocols=["ocpp2.0.1"])
    assert refused.value.response.status_code == 401


async def test_auto_register_admits_unknown_station_with_its_password(
    server_config, database_url
):
    server_config.auto_register = True
    system = CentralSystem(server_config)
    await system.start()
    try:
        async with await open_station(system, "LAB-1", password="lab-password-0001"):
            pass
        credentials = await stations.get_station_credentials(system.pool, "LAB-1")
        assert credentials is not None
        assert "lab-password-0001" not in credentials.password_hash
        # Once registered, the station must keep presenting the same password.
        with pytest.raises(InvalidStatus) as refused:
            await open_station(system, "LAB-1", password="another-password-02")
        assert refused.value.response.status_code == 401
        # A password outside 16..40 characters registers nothing.
        with pytest.raises(InvalidStatus):
            await open_station(system, "LAB-2", password="short")
        assert await stations.get_station_credentials(system.pool, "LAB-2") is None
    finally:
        await system.stop()


async def test_tc_b_58_no_common_subprotocol_is_refused_with_http_400(
    csms: CentralSystem, station_id: str
):
    with pytest.raises(InvalidStatus) as refused:
        await open_station(csms, station_id, subprotocols=("ocpp1.6",))
    assert refused.value.response.status_code == 400


async def test_subprotocol_chosen_by_client_order_over_the_wire(
    csms: CentralSystem, station_id: str
):
    async with await open_station(csms, station_id, subprotocols=("ocpp2.1", "ocpp2.0.1")) as ws:
        assert ws.subprotocol == "ocpp2.1"
    async with await open_station(csms, station_id, subprotocols=("ocpp2.0.1", "ocpp2.1")) as ws:
        assert ws.subprotocol == "ocpp2.0.1"


async def test_bad_identity_refuses_the_handshake(csms: CentralSystem):
    for identity in ("x" * 49, "CP%3A7"):
        with pytest.raises(InvalidStatus) as refused:
            await open_station(csms, identity)
        assert refused.value.response.status_code == 404


async def test_permessage_deflate_is_negotiated(csms: CentralSystem, station_id: str):
    async with await open_station(csms, station_id) as ws:
        assert "permessage-deflate" in ws.response.headers.get("Sec-WebSocket-Extensions", "")


async def test_second_connection_replaces_the_first(csms: CentralSystem, station_id: str):
    first = await open_station(csms, station_id)
    second = await open_station(csms, station_id)
    try:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(first.recv(), 5)
        assert first.close_code == 1000
        answer = await exchange(second, [2, "h1", "Heartbeat", {}])
        assert answer[0] == 3 and "currentTime" in answer[2]
        detail = await stations.get_station(csms.pool, station_id)
        assert detail is not None and detail.node_id == csms.config.node_id
    finally:
        await second.close()


async def test_zombie_socket_does_not_block_a_reconnect(csms: CentralSystem, station_id: str):
    # The first socket never reads nor closes (a half-open peer); the new one is served at once.
    zombie = await open_station(csms, station_id)
    zombie.transport.pause_reading()
    fresh = await open_station(csms, station_id)
    try:
        answer = await exchange(fresh, [2, "h2", "Heartbeat", {}])
        assert answer[0] == 3
    finally:
        await fresh.close()
        zombie.transport.abort()


async def test_disconnect_is_recorded(csms: CentralSystem, station_id: str):
    async with await open_station(csms, station_id):
        await asyncio.sleep(0.05)
        assert (await stations.get_station(csms.pool, station_id)).node_id is not None
    for _ in range(100):
        if station_id not in csms.sessions:
            break
        await asyncio.sleep(0.02)
    detail = await stations.get_station(csms.pool, station_id)
    assert detail.node_id is None and detail.disconnected_at is not None



async def test_repeated_failed_logins_are_rate_limited(server_config, database_url):
    server_config.max_auth_failures = 3
    system = CentralSystem(server_config)
    await system.start()
    try:
        await stations.register_station(system.pool, "CP-RL", "the-right-password-1")
        statuses = []
        for _ in range(4):
            with pytest.raises(InvalidStatus) as refused:
                await open_station(system, "CP-RL", password="a-wrong-password-22")
            statuses.append(refused.value.response.status_code)
        assert statuses == [401, 401, 401, 429]
        # Even the right password waits until the window has passed.
        with pytest.raises(InvalidStatus) as refused:
            await open_station(system, "CP-RL", password="the-right-password-1")
        assert refused.value.response.status_code == 429
    finally:
        await system.stop()


async def test_profile_0_station_connects_without_credentials(csms: CentralSystem):
    await stations.register_station(csms.pool, "LAB-0", None, security_profile=0)
    async with await connect(url(csms, "LAB-0"), subprotocols=["ocpp2.0.1"]) as ws:
        answer = await exchange(ws, [2, "h", "Heartbeat", {}])
        assert answer[0] == 3
