"""Stations: registration, credentials, connection state, connector status, removal."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from csms.store import commands, metering, stations
from csms.store.base import jsonable
from csms.store.metering import MeterSample
from csms.store.passwords import verify_password

T0 = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)


async def test_register_stores_only_a_hash_and_refuses_duplicates(pool: asyncpg.Pool):
    await stations.register_station(pool, "CS-1", "a-password-of-16+", security_profile=2)
    creds = await stations.get_station_credentials(pool, "CS-1")
    assert creds is not None and creds.security_profile == 2
    assert creds.password_hash != "a-password-of-16+"
    assert verify_password("a-password-of-16+", creds.password_hash)
    with pytest.raises(stations.StationExists):
        await stations.register_station(pool, "CS-1", "another-password-16")
    assert await stations.get_station_credentials(pool, "nobody") is None


async def test_identity_with_colon_is_refused_by_the_schema(pool: asyncpg.Pool):
    with pytest.raises(asyncpg.CheckViolationError):
        await stations.register_station(pool, "bad:id", "a-password-of-16+")


async def test_set_password_replaces_the_hash(pool: asyncpg.Pool, station: str):
    await stations.set_password(pool, station, "the new password!")
    creds = await stations.get_station_credentials(pool, station)
    assert verify_password("the new password!", creds.password_hash)
    assert not verify_password("correct horse battery staple", creds.password_hash)
    with pytest.raises(stations.StationNotFound):
        await stations.set_password(pool, "nobody", "the new password!")


async def test_disconnect_only_by_the_node_that_holds_the_station(pool: asyncpg.Pool, station: str):
    await commands.register_node(pool, "node-a")
    await commands.register_node(pool, "node-b")
    await stations.mark_connected(pool, station, "node-a", "ocpp2.0.1", "127.0.0.1:5000")
    await stations.mark_connected(pool, station, "node-b", "ocpp2.1", "127.0.0.1:5001")
    assert not await stations.mark_disconnected(pool, station, "node-a")
    summary = (await stations.list_stations(pool))[0]
    assert summary.connected and summary.node_id == "node-b" and summary.subprotocol == "ocpp2.1"
    assert await stations.mark_disconnected(pool, station, "node-b")
    summary = (await stations.list_stations(pool))[0]
    assert not summary.connected and summary.disconnected_at is not None


async def test_connections_of_one_moment_are_recorded_announced_and_fed_in_one_statement(
    pool: asyncpg.Pool
):
    for identity in ("CS-A", "CS-B"):
        await stations.register_station(pool, identity, None)
    await pool.execute("UPDATE stations SET boot_status = 'Pending' WHERE id = 'CS-B'")
    await pool.execute("INSERT INTO webhooks (url, types, secret) VALUES "
                       "('https://example.test/h', ARRAY['station.connected'], 's')")
    heard: list[tuple[str, str]] = []
    listener = await pool.acquire()

    def hear(_conn: object, _pid: int, channel: str, payload: str) -> None:
        heard.append((channel, payload))

    for channel in ("announce", "csms_feed"):
        await listener.add_listener(channel, hear)
    try:
        booted = await stations.record_connections(pool, "node-z", {
            "CS-A": ("ocpp2.0.1", "127.0.0.1:4000"), "CS-B": ("ocpp2.1", None),
            "CS-GONE": ("ocpp2.0.1", None)}, "announce")
        for _ in range(100):
            if len(heard) >= 5:
                break
            await asyncio.sleep(0.02)
    finally:
        for channel in ("announce", "csms_feed"):
            await listener.remove_listener(channel, hear)
        await pool.release(listener)
    assert booted == {"CS-A": None, "CS-B": "Pending"}  # the unknown station is left out
    rows = await pool.fetch("SELECT id, node_id, subprotocol, remote_address, connected_at"
                            " IS NOT NULL FROM stations ORDER BY id")
    assert [tuple(r) for r in rows] == [("CS-A", "node-z", "ocpp2.0.1", "127.0.0.1:4000", True),
                                        ("CS-B", "node-z", "ocpp2.1", None, True)]
    feed = await pool.fetch("SELECT id, type, data FROM feed_events ORDER BY id")
    assert [(r["type"], r["data"]["station_id"]) for r in feed] == [
        ("station.connected", "CS-A"), ("station.connected", "CS-B"),
        ("station.connected", "CS-GONE")]
    assert feed[0]["data"] == {"station_id": "CS-A", "ocpp": "2.0.1",
                                           "remote": "127.0.0.1:4000", "node_id": "node-z"}
    assert await pool.fetchval("SELECT count(*) FROM webhook_deliveries") == 3
    assert sorted(p for ch, p in heard if ch == "announce") == ["node-z CS-A", "node-z CS-B"]
    assert sorted(int(p) for ch, p in heard if ch == "csms_feed") == [r["id"] for r in feed]


async def test_station_of_a_node_that_stopped_heartbeating_reads_offline(
    pool: asyncpg.Pool, station: str
):
    await commands.register_node(pool, "node-k")
    await stations.mark_connected(pool, station, "node-k", "ocpp2.0.1", None)
    assert (await stations.get_station(pool, station)).connected
    # The node was killed: it never cleared its stations, and its heartbeat went stale.
    await pool.execute("UPDATE nodes SET heartbeat_at = now() - interval '1 minute'")
    detail = await stations.get_station(pool, station)
    assert not detail.connected and detail.node_id == "node-k"


async def test_older_connector_status_does_not_overwrite_newer(pool: asyncpg.Pool, station: str):
    await stations.record_connector_status(pool, station, 1, 1, "Occupied", T0)
    await stations.record_connector_status(pool, station, 1, 1, "Available", T0 - timedelta(1))
    await stations.record_connector_status(pool, station, 2, 1, "Faulted", T0)
    detail = await stations.get_station(pool, station)
    assert [(c.evse_id, c.connector_id, c.status) for c in detail.connectors] == [
        (1, 1, "Occupied"), (2, 1, "Faulted")]


async def test_station_detail_is_json_ready(pool: asyncpg.Pool, station: str):
    await stations.record_boot(pool, station, status="Accepted", reason="PowerUp",
                               vendor_name="Fermata", model="FE-20", serial_number="S1")
    await stations.record_heartbeats(pool, [station])
    detail = await stations.get_station(pool, station)
    data = jsonable(detail)
    assert data["model"] == "FE-20" and data["boot_status"] == "Accepted"
    assert isinstance(data["last_heartbeat_at"], str)
    assert await stations.get_station(pool, "nobody") is None


async def test_remove_deletes_the_station_and_its_meter_values(pool: asyncpg.Pool, station: str):
    sample = MeterSample(0, None, T0, "Energy.Active.Import.Register", None, "Outlet", "Wh",
                         "Sample.Clock", 10.0)
    await metering.insert_meter_values(pool, station, [sample])
    await stations.record_connector_status(pool, station, 1, 1, "Available", T0)
    assert await stations.remove_station(pool, station)
    assert not await stations.remove_station(pool, station)
    assert await metering.meter_values(pool, station_id=station) == []
    assert await pool.fetchval("SELECT count(*) FROM connectors") == 0
