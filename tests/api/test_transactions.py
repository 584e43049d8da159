"""``/v1/transactions``: filters, pages, one transaction with its events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.store import stations
from csms.store.db import open_pool
from csms.store.metering import MeterSample
from csms.store.transactions import TxEvent, record_transaction_event
from tests.api.conftest import Api

T0 = datetime(2025, 6, 1, 8, tzinfo=UTC)


def register(wh: float, at: datetime, tx: str) -> MeterSample:
    return MeterSample(1, tx, at, "Energy.Active.Import.Register", None, "Outlet", "Wh",
                       "Transaction.Begin", wh)


async def seed(database_url: str) -> None:
    pool = await open_pool(database_url)
    try:
        for station_id in ("S1", "S2"):
            await stations.register_station(pool, station_id, None, 0)
        for n in range(5):
            station_id = "S1" if n % 2 == 0 else "S2"
            start = T0 + timedelta(hours=n)
            await record_transaction_event(pool, station_id, TxEvent(
                f"T{n}", 0, "Started", start, "CablePluggedIn", evse_id=1, connector_id=1,
                id_token="TOKEN"), [register(1000.0, start, f"T{n}")])
            if n < 3:
                end = start + timedelta(minutes=30)
                await record_transaction_event(pool, station_id, TxEvent(
                    f"T{n}", 1, "Ended", end, "EVDeparted", stopped_reason="EVDisconnected"),
                    [register(6000.0, end, f"T{n}")])
    finally:
        await pool.close()


async def test_list_filters_and_pages(api: Api):
    await seed(api.database_url)
    async with api.client("read") as http:
        ids = []
        cursor = None
        while True:
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (await http.get("/v1/transactions", params=params)).json()
            ids += [t["transaction_id"] for t in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        active = (await http.get("/v1/transactions", params={"active": "true"})).json()
        ended_s1 = (await http.get("/v1/transactions", params={
            "station": "S1", "active": "false"})).json()
        since = (await http.get("/v1/transactions", params={
            "since": (T0 + timedelta(hours=3)).isoformat()})).json()
    assert ids == ["T4", "T3", "T2", "T1", "T0"]
    assert {t["transaction_id"] for t in active["items"]} == {"T3", "T4"}
    assert {t["transaction_id"] for t in ended_s1["items"]} == {"T0", "T2"}
    assert {t["transaction_id"] for t in since["items"]} == {"T3", "T4"}


async def test_one_transaction_with_events_and_energy(api: Api):
    await seed(api.database_url)
    async with api.client("read") as http:
        tx = (await http.get("/v1/transactions/T0")).json()
        missing = await http.get("/v1/transactions/T9")
        wrong_station = await http.get("/v1/transactions/T0", params={"station": "S2"})
    assert tx["station_id"] == "S1" and tx["energy_imported_wh"] == 5000.0
    assert [e["event_type"] for e in tx["events"]] == ["Started", "Ended"]
    assert tx["duration_s"] == 1800.0 and len(tx["meter_values"]) == 2
    assert missing.status_code == 404 and wrong_station.status_code == 404
