"""A batch's rows as one JSON parameter (csms.store.jsonrows): every value comes back as it
went in, through the encoder alone and through the group commit's statements."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import orjson

from csms.store import batch, jsonrows, transactions
from csms.store.metering import MeterSample
from csms.store.transactions import TxEvent

T0 = datetime(2026, 6, 1, 16, 0, 0, 123456, tzinfo=UTC)
COLUMNS = "s text, t timestamptz, n bigint, f float8, b boolean, p jsonb"


def test_document_writes_rows_as_arrays_with_utc_times():
    text = jsonrows.document([("a", T0, 2**63 - 1, 0.1, True, {"k": [1, None]}),
                              (None, datetime(2026, 6, 1, 16), -5, None, False, None)])
    assert orjson.loads(text) == [
        ["a", "2026-06-01T16:00:00.123456Z", 2**63 - 1, 0.1, True, {"k": [1, None]}],
        [None, "2026-06-01T16:00:00Z", -5, None, False, None]]


def test_document_falls_back_for_integers_orjson_refuses():
    text = jsonrows.document([("a", datetime(2026, 6, 1, 16), {"big": 2**70})])
    assert orjson.loads(text.replace(str(2**70), "0")) == [
        ["a", "2026-06-01T16:00:00+00:00", {"big": 0}]]
    assert str(2**70) in text


def test_real_keeps_non_finite_floats_as_text():
    assert jsonrows.real(1.5) == 1.5
    assert jsonrows.real(None) is None
    assert jsonrows.real(math.inf) == "inf" and jsonrows.real(-math.inf) == "-inf"
    assert jsonrows.reals([0.1, 1e-320, math.inf, 5]) == "{0.1,1e-320,inf,5}"


def test_select_casts_each_position():
    sql = jsonrows.select(2, COLUMNS)
    assert sql.startswith("SELECT j->>0 AS s, (j->>1)::timestamptz AS t,")
    assert "nullif(j->5, 'null'::jsonb) AS p" in sql
    assert sql.endswith("FROM jsonb_array_elements($2::text::jsonb) AS j")


async def test_values_come_back_from_postgresql_as_sent(pool: asyncpg.Pool):
    sent = [("x'y\"z\u00e9", T0, -(2**63), 0.1, False, {"a": 1.5}),
            (None, T0.astimezone(timezone(timedelta(hours=-7))), None, jsonrows.real(-math.inf),
             None, None)]
    got = await pool.fetch(jsonrows.select(1, COLUMNS), jsonrows.document(sent))
    assert [tuple(r) for r in got] == [
        sent[0], (None, T0, None, -math.inf, None, None)]
    assert got[1]["p"] is None  # a JSON null is SQL NULL, not jsonb 'null'


async def test_group_commit_stores_infinite_and_tiny_values_and_huge_payload_integers(
    pool: asyncpg.Pool, stations: list[str]
):
    station = stations[0]
    at = datetime(2026, 6, 1, 16, 0, 0, 250001, tzinfo=UTC)

    def sample(value: float, measurand: str) -> MeterSample:
        return MeterSample(1, "tx-j", at, measurand, None, "Outlet", "Wh", "Sample.Periodic",
                           value)

    writer = batch.GroupCommit(pool)
    event = TxEvent(transaction_id="tx-j", seq_no=0, event_type="Started", timestamp=at,
                    trigger_reason="CablePluggedIn", evse_id=1,
                    payload={"customData": {"vendorId": "x", "counter": 2**70}})
    assert await writer.transaction_event(
        station, event, [sample(math.inf, "Energy.Active.Import.Register"),
                         sample(5e-324, "Energy.Active.Export.Register")])
    await writer.meter_values(station, [sample(0.1, "Power.Active.Import")])
    values = {r["measurand"]: r["value"] for r in await pool.fetch(
        "SELECT measurand, value FROM meter_values WHERE station_id = $1", station)}
    assert values == {"Energy.Active.Import.Register": math.inf,
                      "Energy.Active.Export.Register": 5e-324, "Power.Active.Import": 0.1}
    stored = await pool.fetchrow(
        "SELECT timestamp, payload FROM transaction_events WHERE station_id = $1", station)
    assert stored["timestamp"] == at
    assert stored["payload"]["customData"]["counter"] == 2**70
    tx = await transactions.get_transaction(pool, "tx-j", station_id=station)
    assert tx.energy_import_start == math.inf and tx.energy_export_start == 5e-324
