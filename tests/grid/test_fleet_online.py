"""Only EVs at stations a live node holds take part in forecasts and events."""

from __future__ import annotations

from datetime import UTC, datetime

from csms.grid.plugged_in import load_fleet
from csms.store import commands, stations, transactions
from csms.store.db import open_pool
from csms.store.grid.records import Program
from csms.store.metering import MeterSample
from csms.store.transactions import TxEvent


async def test_ev_at_an_offline_station_is_excluded_with_a_reason(database_url: str) -> None:
    pool = await open_pool(database_url)
    try:
        now = datetime.now(UTC)
        await stations.register_station(pool, "CP-G", "grid-test-password-1")
        await commands.register_node(pool, "node-g")
        await stations.mark_connected(pool, "CP-G", "node-g", "ocpp2.0.1", None)
        event = TxEvent(transaction_id="tx-g", seq_no=0, event_type="Started", timestamp=now,
                        trigger_reason="CablePluggedIn", evse_id=1, connector_id=1)
        soc = MeterSample(evse_id=1, transaction_id="tx-g", timestamp=now,
                          measurand="SoC", value=60.0, unit="Percent", phase=None,
                          location="EV", context="Transaction.Begin")
        await transactions.record_transaction_event(pool, "CP-G", event, [soc])
        program = Program("p")

        [(_, ev, reason)] = await load_fleet(pool, program, now)
        assert ev is not None and ev.soc == 0.6 and reason is None

        await commands.node_stopped(pool, "node-g")
        [(_, ev, reason)] = await load_fleet(pool, program, now)
        assert ev is None and reason == "station offline"
    finally:
        await pool.close()
