"""A light OCPP 2.0.1 load generator: thousands of stations on raw asyncio sockets.

Each station is an :class:`asyncio.Protocol` that speaks just enough of RFC 6455 for the
benchmark: the opening handshake (Basic auth, subprotocol, optionally permessage-deflate), masked
text frames out (with a zero mask key, which servers accept and which costs nothing to apply),
text, ping and close frames in. Messages are pre-rendered byte templates. One station costs a few
kilobytes and a few microseconds per message, so the load generator leaves the CPU to the server
it measures.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

_KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
_MASK = b"\x00\x00\x00\x00"
_TAIL = b"\x00\x00\xff\xff"

_SAMPLES = (
    b'[{"timestamp":"%(ts)s","sampledValue":['
    b'{"value":%(wh)d,"measurand":"Energy.Active.Import.Register","unitOfMeasure":{"unit":"Wh"}},'
    b'{"value":%(w)d,"measurand":"Power.Active.Import","unitOfMeasure":{"unit":"W"}},'
    b'{"value":%(soc)d,"measurand":"SoC","location":"EV","unitOfMeasure":{"unit":"Percent"}},'
    b'{"value":%(exp)d,"measurand":"Energy.Active.Export.Register","unitOfMeasure":{"unit":"Wh"}}'
    b"]}]"
)
BOOT = (b'[2,"%(id)d","BootNotification",{"reason":"PowerUp","chargingStation":'
        b'{"model":"LG-1","vendorName":"Loadgen","serialNumber":"%(sn)s"}}]')
HEARTBEAT = b'[2,"%(id)d","Heartbeat",{}]'
METER_VALUES = b'[2,"%(id)d","MeterValues",{"evseId":1,"meterValue":' + _SAMPLES + b"}]"
TX_EVENT = (b'[2,"%(id)d","TransactionEvent",{"eventType":"%(type)s","timestamp":"%(ts)s",'
            b'"triggerReason":"%(trigger)s","seqNo":%(seq)d,"transactionInfo":'
            b'{"transactionId":"%(tx)s","chargingState":"Charging"},'
            b'"evse":{"id":1,"connectorId":1},"meterValue":' + _SAMPLES + b"}]")
ACCEPTED = b'[3,"%s",{"status":"Accepted"}]'

#: The steady-state message cycle of every station (the benchmark's "same payloads").
CYCLE = ("MeterValues", "TransactionEvent", "MeterValues", "TransactionEvent", "Heartbeat")


def frame(data: bytes, opcode: int = 1, rsv1: bool = False) -> bytes:
    """A masked client frame carrying ``data``."""
    first = 0x80 | opcode | (0x40 if rsv1 else 0)
    n = len(data)
    if n < 126:
        head = bytes((first, 0x80 | n))
    elif n < 65536:
        head = bytes((first, 0xFE)) + n.to_bytes(2, "big")
    else:
        head = bytes((first, 0xFF)) + n.to_bytes(8, "big")
    return head + _MASK + data


def _now() -> bytes:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()).encode()


@dataclass
class Stats:
    """What the fleet saw since the last :meth:`reset`."""

    sent: int = 0
    answered: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    calls_answered: int = 0

    def reset(self) -> None:
        self.sent = self.answered = self.errors = self.calls_answered = 0
        self.latencies = []


class Station(asyncio.Protocol):
    """One simulated station; see the module docstring."""

    def __init__(self, fleet: Fleet, identity: str):
        self.fleet = fleet
        self.identity = identity
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.open = False
        self.accepted = False
        self.opened: asyncio.Future[bool] | None = None
        self.pending: tuple[str, float, str] | None = None
        self.next_id = 0
        self.seq = 0
        self.step = 0
        self.inflater: zlib._Decompress | None = None
        self.deflater: zlib._Compress | None = None
        self.on_boot: Callable[[Station], None] | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.transport.write(self.fleet.request(self.identity))

    def connection_lost(self, exc: Exception | None) -> None:
        was_open, self.open, self.accepted, self.pending = self.open, False, False, None
        if self.opened is not None and not self.opened.done():
            self.opened.set_result(False)
        if was_open:
            self.fleet.lost += 1

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.open:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).decode("latin-1")
            del self.buf[: end + 4]
            ok = head.startswith("HTTP/1.1 101")
            if ok and "permessage-deflate" in head.lower():
                # Compress with the window the server allows (client_max_window_bits).
                agreed = re.search(r"client_max_window_bits=(\d+)", head)
                window = min(self.fleet.client_window, int(agreed[1]) if agreed else 15)
                self.inflater = zlib.decompressobj(-15)
                self.deflater = zlib.compressobj(6, zlib.DEFLATED, -window,
                                                 self.fleet.client_mem_level)
            self.open = ok
            if self.opened is not None and not self.opened.done():
                self.opened.set_result(ok)
            if not ok:
                assert self.transport is not None
                self.transport.close()
                return
        self._frames()

    # -- frames --------------------------------------------------------------------------

    def _frames(self) -> None:
        buf = self.buf
        while len(buf) >= 2:
            first, n = buf[0], buf[1] & 0x7F
            pos = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, pos = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, pos = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < pos + n:
                return
            data = bytes(buf[pos: pos + n])
            del buf[: pos + n]
            opcode = first & 0x0F
            if first & 0x40 and self.inflater is not None:
                data = self.inflater.decompress(data + _TAIL)
            if opcode == 1:
                self._message(data)
            elif opcode == 9:
                self._send(data, opcode=10)
            elif opcode == 8:
                self._send(data[:2], opcode=8)
                assert self.transport is not None
                self.transport.close()

    def _send(self, data: bytes, opcode: int = 1) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if opcode == 1 and self.deflater is not None:
            packed = self.deflater.compress(data) + self.deflater.flush(zlib.Z_SYNC_FLUSH)
            self.transport.write(frame(packed[:-4], opcode, rsv1=True))
            return
        self.transport.write(frame(data, opcode))

    def _message(self, data: bytes) -> None:
        message = orjson.loads(data)
        pending = self.pending
        if pending is not None and message[1] == pending[0]:
            self.pending = None
            stats = self.fleet.stats
            stats.latencies.append(time.perf_counter() - pending[1])
            if message[0] == 3 or message[0] == 2:  # 2: an echo server sends the CALL back
                stats.answered += 1
                if pending[2] == "BootNotification":
                    payload = message[3] if message[0] == 2 else message[2]
                    self.accepted = payload.get("status", "Accepted") == "Accepted"
                    if self.on_boot is not None:
                        self.on_boot(self)
            else:
                stats.errors += 1
            self.fleet.on_answer(self)
        elif message[0] == 2:
            # A CSMS-initiated CALL (SetChargingProfile, ...): accept it.
            self._send(ACCEPTED % message[1].encode())
            self.fleet.stats.calls_answered += 1

    # -- messages ------------------------------------------------------------------------

    def call(self, action: str, template: bytes, values: dict[bytes, object]) -> bool:
        """Send a CALL unless one is outstanding; False when the station is busy or closed."""
        if not self.open or self.pending is not None:
            return False
        self.next_id += 1
        values[b"id"] = self.next_id
        data = template % values
        self.pending = (str(self.next_id), time.perf_counter(), action)
        self.fleet.stats.sent += 1
        self._send(data)
        return True

    def boot(self) -> bool:
        """Send a BootNotification."""
        return self.call("BootNotification", BOOT, {b"sn": self.identity.encode()})

    def next_message(self) -> bool:
        """Send the next message of the station's cycle (:data:`CYCLE`)."""
        action = CYCLE[self.step % len(CYCLE)]
        self.step += 1
        if action == "Heartbeat":
            return self.call(action, HEARTBEAT, {})
        values: dict[bytes, object] = {b"ts": self.fleet.now, b"wh": 1000 + self.step,
                                       b"w": 7200, b"soc": 50, b"exp": self.step}
        if action == "MeterValues":
            return self.call(action, METER_VALUES, values)
        self.seq += 1
        values[b"type"] = b"Started" if self.seq == 1 else b"Updated"
        values[b"trigger"] = b"CablePluggedIn" if self.seq == 1 else b"MeterValuePeriodic"
        values[b"seq"] = self.seq
        values[b"tx"] = self.fleet.tx_prefix + self.identity.encode()
        return self.call(action, TX_EVENT, values)


class Fleet:
    """Many :class:`Station`\\ s against one server."""

    def __init__(self, host: str, port: int, *, password: str = "", deflate: bool = False,
                 path: str = "/ocpp/", client_window: int = 12, client_mem_level: int = 5,
                 sources: int = 1):
        self.host, self.port, self.path = host, port, path
        self.password = password
        self.deflate = deflate
        self.client_window = client_window
        self.client_mem_level = client_mem_level
        self.sources = sources
        self.stations: dict[str, Station] = {}
        self.stats = Stats()
        self.lost = 0
        self.now = _now()
        self.tx_prefix = b"tx-%d-" % int(time.time())
        self.on_answer: Callable[[Station], None] = lambda _s: None

    def request(self, identity: str) -> bytes:
        """The opening handshake of ``identity``."""
        lines = [f"GET {self.path}{identity} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {_KEY.decode()}",
                 "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: ocpp2.0.1"]
        if self.password:
            token = base64.b64encode(f"{identity}:{self.password}".encode()).decode()
            lines.append(f"Authorization: Basic {token}")
        if self.deflate:
            lines.append("Sec-WebSocket-Extensions: permessage-deflate; "
                         f"client_max_window_bits={self.client_window}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def tick(self) -> None:
        """Refresh the timestamp put into messages."""
        self.now = _now()

    async def connect(self, identity: str, timeout: float = 30.0) -> Station:
        """Open one station's websocket; raises ConnectionError when the server refuses."""
        loop = asyncio.get_running_loop()
        station = self.stations.get(identity) or Station(self, identity)
        self.stations[identity] = station
        station.opened = loop.create_future()
        station.buf = bytearray()
        number = len(self.stations) % self.sources
        local = (f"127.0.0.{2 + number}", 0) if self.sources > 1 else None
        await asyncio.wait_for(
            loop.create_connection(lambda: station, self.host, self.port, local_addr=local),
            timeout)
        if not await asyncio.wait_for(station.opened, timeout):
            raise ConnectionError(f"{identity}: handshake refused")
        return station

    async def storm(self, identities: list[str], *, concurrency: int = 2000,
                    retry_delay: float = 0.5, deadline: float = 600.0) -> tuple[float, int]:
        """Connect every station at once and send its BootNotification.

        Returns (seconds until all were accepted, connection attempts that failed and were
        retried). Retries refused or timed-out handshakes until ``deadline``.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        done = asyncio.Event()
        remaining = {i for i in identities}
        failures = 0
        gate = asyncio.Semaphore(concurrency)

        def booted(station: Station) -> None:
            if station.accepted:
                remaining.discard(station.identity)
                if not remaining:
                    done.set()

        async def one(identity: str) -> None:
            nonlocal failures
            while loop.time() - started < deadline:
                async with gate:
                    try:
                        station = await self.connect(identity)
                    except (OSError, ConnectionError, TimeoutError):
                        failures += 1
                        station = None
                if station is not None:
                    station.on_boot = booted
                    station.boot()
                    return
                await asyncio.sleep(retry_delay)

        tasks = [asyncio.create_task(one(i)) for i in identities]
        try:
            await asyncio.wait_for(done.wait(), deadline)
        finally:
            for task in tasks:
                task.cancel()
        return loop.time() - started, failures

    async def run_rate(self, rate: float, seconds: float) -> None:
        """Send ``rate`` messages per second in total, spread over the open stations, each
        station with at most one outstanding CALL (a busy station's turn is skipped)."""
        loop = asyncio.get_running_loop()
        stations = [s for s in self.stations.values() if s.open]
        if not stations:
            raise RuntimeError("no station is connected")
        step = 0.01
        start = loop.time()
        owed = 0.0
        index = 0
        while (now := loop.time()) - start < seconds:
            self.tick()
            owed += rate * step
            tries = 0
            while owed >= 1 and tries < len(stations):
                station = stations[index % len(stations)]
                index += 1
                tries += 1
                if station.next_message():
                    owed -= 1
            await asyncio.sleep(max(0.0, start + (round((now - start) / step) + 1) * step
                                    - loop.time()))

    async def run_closed(self, seconds: float, stations: int) -> None:
        """Saturate: ``stations`` stations each send their next message as soon as the last
        one is answered, for ``seconds``."""
        loop = asyncio.get_running_loop()
        chosen = {id(s) for s in list(s for s in self.stations.values() if s.open)[:stations]}
        running = True

        def again(station: Station) -> None:
            if running and id(station) in chosen:
                station.next_message()

        self.on_answer = again
        for station in self.stations.values():
            if id(station) in chosen:
                station.next_message()
        end = loop.time() + seconds
        while loop.time() < end:
            self.tick()
            await asyncio.sleep(0.2)
        running = False
        self.on_answer = lambda _s: None
        await asyncio.sleep(0.5)

    def close_all(self) -> None:
        """Close every station's socket (abruptly, as in a network outage)."""
        for station in self.stations.values():
            if station.transport is not None:
                station.transport.abort()


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def encode(message: list[object]) -> bytes:
    """JSON for a frame (used for payloads built outside the templates)."""
    return orjson.dumps(message)
