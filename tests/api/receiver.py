"""A webhook receiver on 127.0.0.1 (a plain HTTP/1.1 server on asyncio streams) that checks
each delivery's signature and can fail or stall on demand."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from dataclasses import dataclass, field


@dataclass
class Received:
    delivery: str
    event_id: int
    type: str
    body: dict
    signature_ok: bool


@dataclass
class Receiver:
    """Answers 200, or ``fail_status`` the first time it gets an event about a station in
    ``fail_once`` (its data's station_id), and never answers while ``stalled`` is set."""

    secret: str
    fail_once: set[str] = field(default_factory=set)
    fail_status: int = 503
    received: list[Received] = field(default_factory=list)
    stalled: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.base_events.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/hook"

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def event_ids(self) -> list[int]:
        return [r.event_id for r in self.received]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in lines[1:] if line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if self.stalled.is_set():
                    await asyncio.Event().wait()  # hold the request open until killed
                data = json.loads(body)
                expected = "sha256=" + hmac.new(self.secret.encode(), body,
                                                hashlib.sha256).hexdigest()
                self.received.append(Received(
                    headers.get("x-csms-delivery", ""), data["id"], data["type"], data,
                    hmac.compare_digest(expected, headers.get("x-csms-signature", ""))))
                self.arrived.set()
                status = 200
                station = (data.get("data") or {}).get("station_id")
                if station in self.fail_once:
                    self.fail_once.discard(station)
                    status = self.fail_status
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
