"""Block N handlers: LogStatusNotification advances the CSMS's GetLog request with that
requestId; NotifyCustomerInformation parts join into the request's data."""

from __future__ import annotations

import asyncpg

from csms.store import diagnostics, logs
from tests.blocks.conftest import STATION

T = "2026-06-01T16:00:00Z"


async def test_log_status_updates_the_request(pool: asyncpg.Pool, call):
    await logs.add_request(pool, STATION, 100000, "DiagnosticsLog", "http://csms/logs/t",
                           upload_token="t", oldest_at=None, latest_at=None)
    await call("LogStatusNotification", {"status": "Uploading", "requestId": 100000})
    await call("LogStatusNotification", {"status": "Uploaded", "requestId": 100000})
    await call("LogStatusNotification", {"status": "Uploaded", "requestId": 5})  # not ours
    [request] = await logs.list_requests(pool, station_id=STATION)
    assert (request.answer, request.status, request.to_csms) == ("Accepted", "Uploaded", True)


async def test_customer_information_parts_join_in_order(pool: asyncpg.Pool, call):
    await diagnostics.add_customer_request(pool, STATION, 100001, report=True, clear=False,
                                           id_token="TOK", id_token_type="ISO14443")
    await call("NotifyCustomerInformation", {"data": "world", "seqNo": 1, "tbc": False,
                                             "generatedAt": T, "requestId": 100001})
    partial = await diagnostics.customer_request(pool, STATION, 100001)
    assert (partial.parts, partial.complete) == (1, False)
    await call("NotifyCustomerInformation", {"data": "hello ", "seqNo": 0, "tbc": True,
                                             "generatedAt": T, "requestId": 100001})
    request = await diagnostics.customer_request(pool, STATION, 100001)
    assert (request.data, request.parts, request.complete) == ("hello world", 2, True)
