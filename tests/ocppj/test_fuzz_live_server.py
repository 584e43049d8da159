"""Hostile input against a live node: every frame is answered as OCPP-J Part 4 prescribes, or
dropped where it allows, the server stays up, and a station connected meanwhile sees no error.

Each example sends one input on a fuzzing connection and then a probe (a Heartbeat); whatever
arrives before the probe's answer is the answer to the input. :func:`expected` is the oracle:
it decides from the input alone, following Part 4, what the answer must be.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from csms.blocks import handlers_for
from csms.config import ServerConfig
from csms.ocppj import get_validator
from csms.server import CentralSystem
from csms.store import stations
from tests.server.conftest import basic

PASSWORD = "correct-horse-battery-5"
MAX_SIZE = 32 * 1024
VERSIONS = ("2.0.1", "2.1")
SCHEMA_CODES = {"FormatViolation", "TypeConstraintViolation", "OccurrenceConstraintViolation",
                "PropertyConstraintViolation"}
FRAMING_CODES = {"RpcFrameworkError", "ProtocolError", "FormatViolation"}
NOW = datetime.now(UTC).isoformat().replace("+00:00", "Z")

#: Valid requests to mutate, so that many inputs get past the schema into the handlers.
BASES: dict[str, dict[str, Any]] = {
    "Heartbeat": {},
    "BootNotification": {"reason": "PowerUp",
                         "chargingStation": {"model": "FE-20", "vendorName": "Fermata"}},
    "StatusNotification": {"timestamp": NOW, "connectorStatus": "Available", "evseId": 1,
                           "connectorId": 1},
    "Authorize": {"idToken": {"idToken": "TOKEN-1", "type": "ISO14443"}},
    "TransactionEvent": {"eventType": "Started", "timestamp": NOW, "triggerReason": "Authorized",
                         "seqNo": 0, "transactionInfo": {"transactionId": "FUZZ-TX"},
                         "evse": {"id": 1, "connectorId": 1},
                         "meterValue": [{"timestamp": NOW, "sampledValue": [
                             {"value": 1.5, "measurand": "Energy.Active.Import.Register"}]}]},
    "MeterValues": {"evseId": 1, "meterValue": [{"timestamp": NOW, "sampledValue": [
        {"value": 7.0, "measurand": "Power.Active.Import", "phase": "L1"}]}]},
    "DataTransfer": {"vendorId": "com.example", "messageId": "m", "data": {"k": [1, 2]}},
    "NotifyEvent": {"generatedAt": NOW, "seqNo": 0, "eventData": [{
        "eventId": 1, "timestamp": NOW, "trigger": "Alerting", "actualValue": "1",
        "eventNotificationType": "HardWiredNotification", "component": {"name": "EVSE"},
        "variable": {"name": "Power"}}]},
    "SecurityEventNotification": {"type": "FirmwareUpdated", "timestamp": NOW},
}


@dataclass(frozen=True)
class Input:
    """One thing sent on the fuzzing connection."""

    kind: str
    version: str
    data: str | bytes
    text: bool = True


# -- the oracle --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Expected:
    """``close`` (a close code), ``nothing``, or one frame: ``result_or_error`` / ``error``."""

    outcome: str
    ids: frozenset[str] = frozenset()
    codes: frozenset[str] = frozenset()
    close_code: int | None = None


def _leading_call_id(text: str) -> str | None:
    """The id of ``[2, "id", ...`` when the start of a broken frame shows it."""
    head = text.lstrip()
    if not head.startswith("["):
        return None
    try:
        kind, rest = head[1:].split(",", 1)
        if kind.strip() != "2":
            return None
        rest = rest.lstrip()
        if not rest.startswith('"'):
            return None
        ident = rest[1:].split('"', 1)[0]
    except ValueError:
        return None
    return ident if 0 < len(ident) <= 36 and "\\" not in ident else None


def expected(item: Input) -> Expected:
    """What Part 4 prescribes for ``item``."""
    raw = item.data.encode() if isinstance(item.data, str) else item.data
    if len(raw) > MAX_SIZE:
        return Expected("close", close_code=1009)  # message too big
    if item.text and isinstance(item.data, bytes):
        try:
            item.data.decode("utf-8")
        except UnicodeDecodeError:
            return Expected("close", close_code=1007)  # invalid frame payload data
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        text = raw.decode("utf-8", "replace")
        ids = {"-1"} | ({leading} if (leading := _leading_call_id(text)) else set())
        return Expected("error", frozenset(ids), frozenset(FRAMING_CODES))
    if not isinstance(message, list) or len(message) < 3:
        return Expected("error", frozenset({"-1"}), frozenset(FRAMING_CODES))
    kind, message_id = message[0], message[1]
    if type(message_id) is not str or not 0 < len(message_id) <= 36:
        return Expected("error", frozenset({"-1"}), frozenset(FRAMING_CODES))
    ids = frozenset({message_id})
    if type(kind) is not int:
        return Expected("error", ids, frozenset(FRAMING_CODES))
    known = {2, 3, 4} if item.version == "2.0.1" else {2, 3, 4, 5, 6}
    if kind not in known:
        return Expected("error", ids, frozenset({"MessageTypeNotSupported"}))
    if kind in (3, 4, 5, 6):
        return Expected("nothing")  # an answer to no outstanding CALL, or a SEND
    if len(message) != 4 or type(message[2]) is not str or not message[2] \
            or type(message[3]) is not dict:
        return Expected("error", ids, frozenset(FRAMING_CODES))
    action = message[2]
    if not get_validator(item.version).is_known(action):
        return Expected("error", ids, frozenset({"NotImplemented"}))
    if action not in handlers_for(item.version):
        return Expected("error", ids, frozenset({"NotSupported"}))
    return Expected("result_or_error", ids, frozenset(SCHEMA_CODES))


# -- the inputs --------------------------------------------------------------------------------

leaves = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
          | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40))
json_values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                           max_leaves=16)
message_ids = st.text(min_size=0, max_size=40) | st.integers() | st.none()
actions = st.sampled_from(sorted({*BASES, "SetChargingProfile", "Reset", "NoSuchAction",
                                  "heartbeat", ""}))
versions = st.sampled_from(VERSIONS)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _mutate(value: Any, path: list[int | str], replacement: Any, delete: bool) -> Any:
    """``value`` with the element at ``path`` replaced (or deleted)."""
    if not path:
        return replacement
    head, rest = path[0], path[1:]
    if isinstance(value, dict) and head in value:
        out = dict(value)
        if delete and not rest:
            del out[head]
        else:
            out[head] = _mutate(value[head], rest, replacement, delete)
        return out
    if isinstance(value, list) and isinstance(head, int) and head < len(value):
        out_list = list(value)
        out_list[head] = _mutate(value[head], rest, replacement, delete)
        return out_list
    return value


def _paths(value: Any, prefix: list[int | str]) -> list[list[int | str]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, [*prefix, key])
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, [*prefix, index])
    return found


@st.composite
def mutated_calls(draw: st.DrawFn) -> Input:
    """A valid request with one field replaced by anything, deleted, or one key added."""
    action = draw(st.sampled_from(sorted(BASES)))
    payload = BASES[action]
    choice = draw(st.sampled_from(["replace", "delete", "add", "none"]))
    if choice != "none" and payload:
        path = draw(st.sampled_from(_paths(payload, [])[1:] or [[]]))
        if choice == "add":
            payload = {**payload, draw(st.text(max_size=12)): draw(json_values)}
        else:
            extreme = st.sampled_from([-(2**63), 2**63, 1e308, "9999-12-31T23:59:59Z",
                                       "0001-01-01T00:00:00Z", "x" * 3000, "", [], {}])
            payload = _mutate(payload, path, draw(json_values | extreme), choice == "delete")
    message_id = draw(st.text(min_size=1, max_size=36))
    return Input("mutated-call", draw(versions), _dumps([2, message_id, action, payload]))


@st.composite
def odd_frames(draw: st.DrawFn) -> Input:
    """Frames with wrong types or counts, unknown message types and actions, stray answers."""
    kind = draw(st.integers(-2, 9) | st.sampled_from(["2", 2.0, True, None]))
    parts: list[Any] = [kind, draw(message_ids)]
    parts += draw(st.lists(actions | json_values, max_size=4))
    return Input("odd-frame", draw(versions), _dumps(parts))


@st.composite
def stray_answers(draw: st.DrawFn) -> Input:
    """Answers to CALLs the CSMS never made (out of order, late, duplicated), and 2.1 SENDs."""
    message_id = draw(st.text(min_size=1, max_size=36))
    frame = draw(st.sampled_from([
        [3, message_id, draw(json_values)],
        [4, message_id, draw(st.sampled_from(["GenericError", "NotSupported", "Bogus"])),
         draw(st.text(max_size=20)), draw(json_values)],
        [5, message_id, "InternalError", "", {}],
        [6, message_id, draw(st.sampled_from(sorted(BASES))), draw(json_values)],
    ]))
    version = "2.1" if frame[0] in (5, 6) else draw(versions)
    return Input("stray-answer", version, _dumps(frame))


@st.composite
def garbage(draw: st.DrawFn) -> Input:
    """Text that may or may not be JSON at all, and any JSON value."""
    data = draw(st.text(max_size=200) | json_values.map(_dumps)
                | st.sampled_from(["[2,\"a\",\"Heartbeat\",{}", "[2,\"b\",\"Heartbeat\",{},]",
                                   "[NaN]", "[2,\"c\",\"Heartbeat\",{\"x\":Infinity}]", "",
                                   " ", "null", "[]", "[2]", "{\"2\":1}"]))
    return Input("garbage", draw(versions), data)


@st.composite
def deep(draw: st.DrawFn) -> Input:
    """Deeply nested payloads, around and far beyond any parser's depth limit."""
    depth = draw(st.integers(1, 5000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    return Input("deep", draw(versions),
                 f'[2,"deep","DataTransfer",{{"vendorId":"v","data":{opener * depth}1'
                 f"{closer * depth}}}]")


@st.composite
def huge(draw: st.DrawFn) -> Input:
    """Payloads just under, at, and far over the size limit."""
    size = draw(st.sampled_from([MAX_SIZE - 200, MAX_SIZE + 1, MAX_SIZE * 4, MAX_SIZE * 40]))
    frame = _dumps([2, "huge", "DataTransfer", {"vendorId": "v", "data": ""}])
    return Input("huge", draw(versions), frame.replace('"data": ""', '"data": "'
                                                       + "z" * max(0, size - len(frame)) + '"'))


@st.composite
def bad_bytes(draw: st.DrawFn) -> Input:
    """Invalid UTF-8 in a text frame, and anything in a binary frame."""
    data = draw(st.binary(max_size=64) | st.sampled_from([b"\xff\xfe", b'[2,"u","\xc3\x28"]',
                                                          b'[2,"v","Heartbeat",{}]']))
    return Input("bytes", draw(versions), data, text=draw(st.booleans()))


# Mutated requests twice: they are the inputs that reach the handlers and the database.
inputs = st.one_of(mutated_calls(), mutated_calls(), odd_frames(), stray_answers(), garbage(),
                   deep(), huge(), bad_bytes())


# -- the live server ---------------------------------------------------------------------------

class Harness:
    """The node, a fuzzing connection per OCPP version, a bystander, and counters."""

    def __init__(self, system: CentralSystem) -> None:
        self.system = system
        self.fuzz: dict[str, ClientConnection] = {}
        self.bystander: ClientConnection | None = None
        self.tried: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.probes = 0

    async def open(self, identity: str, version: str) -> ClientConnection:
        return await connect(f"ws://127.0.0.1:{self.system.port}/ocpp/{identity}",
                             subprotocols=[f"ocpp{version}"], max_size=None,
                             additional_headers=basic(identity, PASSWORD), open_timeout=30)

    async def connection(self, version: str) -> ClientConnection:
        ws = self.fuzz.get(version)
        if ws is None or ws.close_code is not None:
            ws = self.fuzz[version] = await self.open(f"FUZZ-{version}", version)
        return ws

    async def probe(self, ws: ClientConnection) -> tuple[list[Any], list[Any]]:
        """Send a Heartbeat; returns (frames before its answer, its answer)."""
        self.probes += 1
        probe_id = f"probe-{self.probes}"
        await ws.send(json.dumps([2, probe_id, "Heartbeat", {}]))
        before = []
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if frame[1] == probe_id:
                return before, frame
            before.append(frame)


@pytest.fixture
def fuzz_config(database_url: str) -> ServerConfig:
    """A node with a small message limit and a short close timeout."""
    return ServerConfig(host="127.0.0.1", port=0, database_url=database_url,
                        heartbeat_interval=60, call_timeout=5.0, ping_interval=None,
                        ping_timeout=None, max_message_size=MAX_SIZE, close_timeout=2.0)


@pytest.fixture
async def harness(fuzz_config: ServerConfig) -> AsyncIterator[Harness]:
    system = CentralSystem(fuzz_config)
    await system.start()
    assert system.pool is not None
    for identity in ("FUZZ-2.0.1", "FUZZ-2.1", "BYSTANDER"):
        await stations.register_station(system.pool, identity, PASSWORD)
    harness = Harness(system)
    harness.bystander = await harness.open("BYSTANDER", "2.0.1")
    try:
        yield harness
    finally:
        for ws in [*harness.fuzz.values(), harness.bystander]:
            await ws.close()
        await system.stop()


#: Inputs per run; a longer hunt:
#: CSMS_FUZZ_EXAMPLES=5000 pytest tests/ocppj/test_fuzz_live_server.py -s
EXAMPLES = int(os.environ.get("CSMS_FUZZ_EXAMPLES", "400"))


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(item=inputs)
# Found by this test: a schema-valid EVSE id beyond the database's integer was an InternalError.
@example(item=Input("mutated-call", "2.0.1", _dumps([2, "big-evse", "TransactionEvent", {
    **BASES["TransactionEvent"], "evse": {"id": -(2**63), "connectorId": 1}}])))
@example(item=Input("mutated-call", "2.0.1", _dumps([2, "big-evse", "MeterValues", {
    **BASES["MeterValues"], "evseId": -(2**63)}])))
async def test_hostile_frames_are_answered_or_dropped_and_disturb_nobody(
        harness: Harness, item: Input) -> None:
    harness.tried[item.kind] += 1
    want = expected(item)
    ws = await harness.connection(item.version)
    await ws.send(item.data, text=item.text)
    if want.outcome == "close":
        with pytest.raises(ConnectionClosed) as closed:
            await harness.probe(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == want.close_code
    else:
        answers, probe = await harness.probe(ws)
        assert probe[0] == 3, probe
        if want.outcome == "nothing":
            assert answers == [], (item, answers)
        else:
            assert len(answers) == 1, (item, answers)
            answer = answers[0]
            assert answer[1] in want.ids, (item, answer)
            if want.outcome == "error" or answer[0] != 3:
                assert answer[0] == 4 and len(answer) == 5, (item, answer)
                assert answer[2] in want.codes, (item, answer)
                assert isinstance(answer[3], str) and isinstance(answer[4], dict)
    harness.outcomes[want.outcome] += 1
    # The station connected all along sees nothing but its own answers.
    assert harness.bystander is not None
    _, answer = await harness.probe(harness.bystander)
    assert answer[0] == 3


@pytest.fixture(autouse=True)
def report_inputs(harness: Harness, record_property: Any) -> Any:
    """After the run: the server still accepts stations; print how many inputs were tried."""
    yield
    total = sum(harness.tried.values())
    record_property("inputs_tried", total)
    print(f"\nhostile inputs tried: {total} {dict(sorted(harness.tried.items()))}; "
          f"outcomes {dict(sorted(harness.outcomes.items()))}")
    assert harness.system._server is not None and harness.system._server.is_serving()
