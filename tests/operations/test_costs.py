"""Running costs sent to a station over a real socket (I02): only when the figure changed, and
no more for a transaction the station refused one for."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from csms.config import ServerConfig
from csms.operations import Operations, Status
from csms.operations.costs import send_running_costs
from csms.server import CentralSystem
from csms.store import stations, tariffs
from csms.store.tariffs import Tariff
from tests.server.conftest import BOOT, PASSWORD, exchange, open_station


def _event(event_type: str, seq_no: int, imported_wh: float) -> dict:
    return {"eventType": event_type, "timestamp": f"2026-06-01T16:{seq_no:02d}:00Z",
            "triggerReason": "MeterValuePeriodic", "seqNo": seq_no,
            "transactionInfo": {"transactionId": "TX-1"}, "evse": {"id": 1},
            "meterValue": [{"timestamp": f"2026-06-01T16:{seq_no:02d}:00Z", "sampledValue": [
                {"value": imported_wh, "measurand": "Energy.Active.Import.Register"}]}]}


async def _answer(ws, reply) -> dict:
    """Read the next call from the CSMS and answer it with ``reply(message_id)``."""
    call = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert call[0] == 2 and call[2] == "CostUpdated"
    await ws.send(json.dumps(reply(call[1])))
    return call[3]


async def test_i02_running_cost_updates(database_url: str):
    system = CentralSystem(ServerConfig(host="127.0.0.1", port=0, database_url=database_url,
                                        cost_update_interval=0, ping_interval=None))
    await system.start()
    pool = system.pool
    try:
        await stations.register_station(pool, "CP-1", PASSWORD)
        await tariffs.set_tariff(pool, Tariff("USD", Decimal("0.30")))
        async with await open_station(system, "CP-1") as ws, \
                Operations(pool, database_url) as ops:
            await exchange(ws, [2, "b", "BootNotification", BOOT])
            await exchange(ws, [2, "t0", "TransactionEvent", _event("Started", 0, 1000.0)])
            await exchange(ws, [2, "t1", "TransactionEvent", _event("Updated", 1, 6000.0)])

            async def round_with(reply):
                sending = asyncio.create_task(send_running_costs(ops, pool, system.node.node_id,
                                                                 timeout=5))
                request = await _answer(ws, reply) if reply else None
                return await sending, request

            [sent], request = await round_with(lambda i: [3, i, {}])
            assert request == {"totalCost": 1.5, "transactionId": "TX-1"}
            assert sent.outcome.ok and sent.total_cost == Decimal("1.50")
            told = await tariffs.cost_record(pool, "CP-1", "TX-1")
            assert (told.running_cost, told.running_outcome) == (Decimal("1.50"), "accepted")
            # unchanged: nothing is sent
            assert await send_running_costs(ops, pool, system.node.node_id) == []
            await exchange(ws, [2, "t2", "TransactionEvent", _event("Updated", 2, 7000.0)])
            # the station has no cost display: CALLERROR, and no more for this transaction
            [sent], request = await round_with(
                lambda i: [4, i, "NotImplemented", "no cost display", {}])
            assert request["totalCost"] == 1.8 and sent.outcome.status is Status.CALLERROR
            await exchange(ws, [2, "t3", "TransactionEvent", _event("Updated", 3, 9000.0)])
            assert await send_running_costs(ops, pool, system.node.node_id) == []
    finally:
        await system.stop()
