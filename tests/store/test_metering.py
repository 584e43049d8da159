"""Meter values: storage and queries by station, time, transaction and measurand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from csms.store import metering, stations
from csms.store.metering import MeterSample

T0 = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)


def _sample(minutes: int, measurand: str, value: float, tx: str | None = None) -> MeterSample:
    return MeterSample(1, tx, T0 + timedelta(minutes=minutes), measurand, None, "Outlet", "W",
                       "Sample.Periodic", value, {"signedMeterData": "x"} if tx else None)


async def test_queries_filter_by_station_time_transaction_and_measurand(
    pool: asyncpg.Pool, station: str
):
    await stations.register_station(pool, "CS-002", "another password 16")
    await metering.insert_meter_values(pool, station, [
        _sample(0, "Power.Active.Export", 1.0),
        _sample(5, "Power.Active.Export", 2.0, "tx"),
        _sample(5, "SoC", 50.0, "tx"),
        _sample(10, "Power.Active.Export", 3.0),
    ])
    await metering.insert_meter_values(pool, "CS-002", [_sample(5, "Power.Active.Export", 9.0)])
    assert len(await metering.meter_values(pool)) == 5
    rows = await metering.meter_values(pool, station_id=station, since=T0 + timedelta(minutes=5),
                                       until=T0 + timedelta(minutes=10))
    assert [(r.measurand, r.value) for r in rows] == [("Power.Active.Export", 2.0), ("SoC", 50.0)]
    assert rows[0].signed_meter_value == {"signedMeterData": "x"}
    rows = await metering.meter_values(pool, transaction_id="tx", measurands=["SoC"])
    assert [(r.station_id, r.value) for r in rows] == [(station, 50.0)]
    assert len(await metering.meter_values(pool, limit=2)) == 2


async def test_stream_yields_every_row_in_order(pool: asyncpg.Pool, station: str):
    samples = [_sample(i, "Power.Active.Import", float(i)) for i in range(25)]
    assert await metering.insert_meter_values(pool, station, samples) == 25
    async with pool.acquire() as conn:
        values = [r.value async for r in metering.stream_meter_values(
            conn, station_id=station, batch=7)]
    assert values == [float(i) for i in range(25)]
