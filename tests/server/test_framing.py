"""OCPP-J framing errors over a live socket: each gets its CALLERROR and the connection lives on."""

from __future__ import annotations

import asyncio
import json

import pytest

from csms.server import CentralSystem
from tests.server.conftest import exchange, open_station


async def assert_still_serving(ws) -> None:
    answer = await exchange(ws, [2, "alive", "Heartbeat", {}])
    assert answer[0] == 3 and answer[1] == "alive"


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ("this is not json", [4, "-1", "RpcFrameworkError"]),
        ('[2, "m-1", "Heartbeat", {', [4, "m-1", "FormatViolation"]),
        ('{"messageTypeId": 2}', [4, "-1", "RpcFrameworkError"]),
        ('[2, 42, "Heartbeat", {}]', [4, "-1", "RpcFrameworkError"]),
        ('[7, "m-2", "Heartbeat", {}]', [4, "m-2", "MessageTypeNotSupported"]),
        ('[2, "m-3", "Heartbeat"]', [4, "m-3", "ProtocolError"]),
        ('[2, "m-4", "BrewCoffee", {}]', [4, "m-4", "NotImplemented"]),
        ('[2, "m-5", "Authorize", {"idToken": {"idToken": 5, "type": "ISO14443"}}]',
         [4, "m-5", "TypeConstraintViolation"]),
        ('[2, "m-6", "Authorize", {}]', [4, "m-6", "OccurrenceConstraintViolation"]),
        ('[2, "m-7", "Heartbeat", {"extra": true}]', [4, "m-7", "FormatViolation"]),
        ('[2, "m-8", "StatusNotification", {"timestamp": "yesterday", "connectorStatus": '
         '"Available", "evseId": 1, "connectorId": 1}]', [4, "m-8", "PropertyConstraintViolation"]),
    ],
)
async def test_malformed_frames_get_the_prescribed_callerror(
    csms: CentralSystem, station_id: str, frame: str, expected: list
):
    async with await open_station(csms, station_id) as ws:
        answer = await exchange(ws, frame)
        assert answer[:3] == expected
        assert isinstance(answer[3], str) and answer[4] is not None
        await assert_still_serving(ws)


async def test_2_1_send_is_never_answered(csms: CentralSystem, station_id: str):
    async with await open_station(csms, station_id, subprotocols=("ocpp2.1",)) as ws:
        payload = {"id": 1, "pending": 0, "basetime": "2026-01-01T00:00:00Z",
                   "data": [{"t": 0, "v": "1"}]}
        await ws.send(json.dumps([6, "s-1", "NotifyPeriodicEventStream", payload]))
        # The next frame we read must be the Heartbeat's answer, not anything about the SEND.
        await assert_still_serving(ws)


async def test_2_1_unknown_action_gets_not_implemented(csms: CentralSystem, station_id: str):
    async with await open_station(csms, station_id, subprotocols=("ocpp2.1",)) as ws:
        answer = await exchange(ws, [2, "u-1", "BrewCoffee", {}])
        assert answer[:3] == [4, "u-1", "NotImplemented"]
        await assert_still_serving(ws)


async def test_stray_callresult_is_ignored(csms: CentralSystem, station_id: str):
    async with await open_station(csms, station_id) as ws:
        await ws.send(json.dumps([3, "nobody-asked", {"status": "Accepted"}]))
        await ws.send(json.dumps([4, "nobody-asked-2", "GenericError", "", {}]))
        await assert_still_serving(ws)


async def test_binary_frame_with_json_is_understood(csms: CentralSystem, station_id: str):
    async with await open_station(csms, station_id) as ws:
        await ws.send(json.dumps([2, "bin-1", "Heartbeat", {}]).encode())
        answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert answer[:2] == [3, "bin-1"]


async def test_responses_to_csms_calls_are_read_while_a_station_call_is_handled(
    csms: CentralSystem, station_id: str
):
    """A CSMS call issued while the station's own CALL is in flight still completes."""
    async with await open_station(csms, station_id) as ws:
        session = csms.sessions[station_id]
        await session.ready.wait()
        # Start a CSMS -> station call; the station answers it only after sending its own CALL.
        outgoing = asyncio.create_task(session.rpc.call("Reset", {"type": "Immediate"}))
        request = json.loads(await ws.recv())
        assert request[2] == "Reset"
        await ws.send(json.dumps([2, "st-1", "Heartbeat", {}]))
        await ws.send(json.dumps([3, request[1], {"status": "Accepted"}]))
        assert await asyncio.wait_for(outgoing, 5) == {"status": "Accepted"}
        answer = json.loads(await ws.recv())
        assert answer[:2] == [3, "st-1"]
