"""A minimal CSMS for the station tests: real websockets on 127.0.0.1, real OCPP-J framing.

It answers every station-initiated call with a fixed, valid response, records what it
received, and lets a test send CSMS-initiated calls to a connected station.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from csms.ocppj import SUBPROTOCOLS, OCPPError, RpcConnection

#: Decides how the test CSMS treats one received call: None answers normally, an OCPP error
#: code answers that CALLERROR, "silence" answers only after ``silence_s`` (too late).
Fault = Callable[[str, str, dict[str, Any]], str | None]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class MiniCsms:
    """Records (station id, action, payload, arrival time) of everything stations send."""

    def __init__(self, *, heartbeat_interval: int = 60, password: str | None = None) -> None:
        self.heartbeat_interval = heartbeat_interval
        self.boot_status = "Accepted"
        self.password = password
        self.received: list[tuple[str, str, dict[str, Any], float]] = []
        self.connections: dict[str, RpcConnection] = {}
        self.rejected_auth = 0
        self.fault: Fault = lambda station, action, payload: None
        self.silence_s = 2.0
        self.server: Server | None = None
        self.port = 0
        self._changed = asyncio.Condition()

    @property
    def url(self) -> str:
        """The endpoint stations connect to (identity appended by the station)."""
        return f"ws://127.0.0.1:{self.port}/ocpp"

    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1 (a free port unless one is given)."""
        self.server = await serve(self._serve, "127.0.0.1", port,
                                  subprotocols=list(SUBPROTOCOLS),  # type: ignore[arg-type]
                                  process_request=self._check_auth)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the listener and every connection."""
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        self.connections.clear()

    def _check_auth(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.password is None:
            return None
        identity = unquote(request.path.rsplit("/", 1)[-1])
        expected = base64.b64encode(f"{identity}:{self.password}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            self.rejected_auth += 1
            return connection.respond(401, "bad credentials\n")
        return None

    async def _record(self, station: str, action: str, payload: dict[str, Any]) -> None:
        self.received.append((station, action, payload, time.monotonic()))
        async with self._changed:
            self._changed.notify_all()

    def _handlers(self, station: str) -> dict[str, Callable[..., Any]]:
        answers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "BootNotification": lambda p: {"currentTime": _now(), "status": self.boot_status,
                                           "interval": self.heartbeat_interval},
            "Heartbeat": lambda p: {"currentTime": _now()},
            "Authorize": lambda p: {"idTokenInfo": {"status": "Accepted"}},
            "TransactionEvent": lambda p: (
                {"idTokenInfo": {"status": "Accepted"}} if "idToken" in p else {}),
            "NotifyEVChargingNeeds": lambda p: {"status": "Accepted"},
            "SignCertificate": lambda p: {"status": "Accepted"},
        }
        quiet = ("StatusNotification", "NotifyEvent", "NotifyReport", "ReportChargingProfiles",
                 "MeterValues", "FirmwareStatusNotification", "LogStatusNotification",
                 "SecurityEventNotification")

        def handler(action: str) -> Callable[[dict[str, Any]], Any]:
            async def handle(payload: dict[str, Any]) -> dict[str, Any]:
                await self._record(station, action, payload)
                fault = self.fault(station, action, payload)
                if fault == "silence":
                    await asyncio.sleep(self.silence_s)
                elif fault is not None:
                    raise OCPPError(fault, "refused by the test")
                return answers[action](payload) if action in answers else {}
            return handle

        return {action: handler(action) for action in [*answers, *quiet]}

    async def _serve(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        station = unquote(ws.request.path.rsplit("/", 1)[-1])
        version = SUBPROTOCOLS[ws.subprotocol or "ocpp2.0.1"]
        conn = RpcConnection(ws, version, self._handlers(station), call_timeout=10)
        self.connections[station] = conn
        await conn.run()
        if self.connections.get(station) is conn:
            del self.connections[station]

    def messages(self, action: str, station: str | None = None) -> list[dict[str, Any]]:
        """Payloads of one action, in arrival order."""
        return [p for s, a, p, _ in self.received
                if a == action and (station is None or s == station)]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every received message)."""
        async def check() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result
        return await asyncio.wait_for(check(), timeout)

    async def call(self, station: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a CSMS-initiated call to a connected station."""
        await self.wait_for(lambda: station in self.connections)
        return await self.connections[station].call(action, payload)
