"""The connection half of a simulated station: connect, boot, send the outbox, reconnect.

Reconnecting follows OCPP-J Part 4, 5.3: a minimum wait plus a random share, doubling a few
times, so a fleet that lost its CSMS at one instant does not come back at one instant. The outbox
is sent in order; a TransactionEvent that gets a CALLERROR, or no answer, stays at its head and is
sent again after a growing pause (E13), and one that cannot be sent because the connection is
down waits for the next connection (E04).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import ssl
import time
from collections import deque
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from csms.ocppj import CallError, CallTimeout, RpcConnection
from simulators.certificates import StationCertificates
from simulators.cost import CostDisplay
from simulators.devicemodel import DeviceModel
from simulators.evse import Evse
from simulators.stationconfig import (
    SUBPROTOCOL,
    Offline,
    Outgoing,
    StationConfig,
    StationStats,
)


class Link:
    """Connection behaviour shared by :class:`simulators.station.Station` (a mixin).

    The station provides the attributes declared here, ``url``, and the methods ``enqueue``
    and ``elapsed``.
    """

    id: str
    version: str
    config: StationConfig
    log: Any
    rng: random.Random
    model: DeviceModel
    evse: Evse
    cost: CostDisplay
    outbox: deque[Outgoing]
    online: bool
    conn: RpcConnection | None
    stats: StationStats
    boot_reason: str
    boot_now: asyncio.Event
    reset_kind: str | None
    reconnect_now: bool
    handlers: dict[str, Any]
    certificates: StationCertificates
    _stopping: asyncio.Event
    _wake: asyncio.Event
    _drops: deque[float]
    _heartbeat_due: float

    url: str

    def _backoff(self, attempt: int) -> float:
        """Seconds to wait before reconnect attempt ``attempt`` (0 for the first; Part 4, 5.3).

        RetryBackOffWaitMinimum doubled after every failed attempt, at most
        RetryBackOffRepeatTimes times, plus a fresh random value of at most
        RetryBackOffRandomRange: the random part spreads a fleet's reconnects.
        """
        config = self.config
        doubled = config.backoff_min_s * 2 ** min(attempt, config.backoff_repeat_times)
        return doubled + self.rng.uniform(0.0, config.backoff_random_s)

    def _tls_context(self) -> ssl.SSLContext | None:
        """For a wss:// URL: trust ``ca_file`` (else the system's CAs) and the installed CSMS
        roots, and, for security profile 3, present ``cert_file`` / ``key_file`` or the
        certificate the CSMS signed since."""
        if not self.url.startswith("wss://"):
            return None
        context = ssl.create_default_context(cafile=self.config.ca_file)
        if self.config.cert_file:
            context.load_cert_chain(self.config.cert_file, self.config.key_file)
        self.certificates.prepare_tls(context)
        return context

    async def _connection_loop(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            headers = {}
            password = self.model.get("SecurityCtrlr", "BasicAuthPassword")
            if password:
                token = base64.b64encode(f"{self.id}:{password}".encode()).decode()
                headers["Authorization"] = f"Basic {token}"
            try:
                async with connect(self.url, subprotocols=[SUBPROTOCOL[self.version]],
                                   additional_headers=headers, proxy=None,
                                   ssl=self._tls_context(),
                                   compression="deflate" if self.config.compression else None,
                                   ping_interval=self.config.ping_interval_s,
                                   open_timeout=self.config.call_timeout_s) as ws:
                    self.stats.connects += 1
                    self.stats.connected_at.append(time.monotonic())
                    attempt = 0
                    await self._connected(ws)
            except (OSError, TimeoutError, WebSocketException) as exc:
                self.stats.connect_failures += 1
                self.log.info("station.connect_failed", error=str(exc), attempt=attempt)
            self._went_offline()
            if self._stopping.is_set():
                return
            if self.reset_kind is not None or self.reconnect_now:
                self.reset_kind = None
                self.reconnect_now = False
                continue
            delay = self._backoff(attempt)
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    def _went_offline(self) -> None:
        self.online = False
        self.conn = None
        kept: deque[Outgoing] = deque()
        for item in self.outbox:
            if item.durable:
                kept.append(item)
            elif item.reply is not None and not item.reply.done():
                item.reply.set_exception(Offline(item.action))
        self.outbox = kept

    async def _connected(self, ws: Any) -> None:
        conn = RpcConnection(ws, self.version, self.handlers,
                             call_timeout=self.config.call_timeout_s, log=self.log)
        self.conn = conn
        reader = asyncio.create_task(conn.run())
        reader.add_done_callback(lambda _: self._wake.set())
        try:
            if await self._boot(conn, reader):
                self.online = True
                self.enqueue([self.evse.status_notification(time.time())])
                await self._serve(ws, conn, reader)
        except (ConnectionClosed, CallTimeout) as exc:
            self.log.info("station.connection_lost", error=str(exc))
        finally:
            self.online = False
            await ws.close()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _boot(self, conn: RpcConnection, reader: asyncio.Task[None]) -> bool:
        """B01/B02/B03: BootNotification until Accepted; False if the connection ends first."""
        spec = self.config.charger
        while not reader.done() and not self._stopping.is_set():
            payload = {"reason": self.boot_reason, "chargingStation": {
                "model": spec.model, "vendorName": spec.vendor, "serialNumber": self.id[:25],
                "firmwareVersion": self.config.firmware_version}}
            response = await conn.call("BootNotification", payload)
            self.stats.boots += 1
            interval = int(response.get("interval", 0))
            if response["status"] == "Accepted":
                if interval > 0:
                    self.model.set("OCPPCommCtrlr", "HeartbeatInterval", str(interval))
                self.boot_reason = "PowerUp"
                self._heartbeat_due = time.monotonic() + self._heartbeat_interval()
                return True
            # B02 (Pending) / B03 (Rejected): boot again after the interval the CSMS gave,
            # or at once when the CSMS triggers a BootNotification.
            self.boot_now.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.boot_now.wait(), interval if interval > 0 else 10)
        return False

    def _heartbeat_interval(self) -> int:
        return int(self.model.get("OCPPCommCtrlr", "HeartbeatInterval"))

    async def _serve(self, ws: Any, conn: RpcConnection, reader: asyncio.Task[None]) -> None:
        while not reader.done() and not self._stopping.is_set():
            await self._flush(conn, reader)
            now = time.monotonic()
            if self._drops and self.elapsed() >= self._drops[0]:
                self._drops.popleft()
                self.stats.drops += 1
                self.stats.fault("connection_drop")
                ws.transport.abort()  # no close handshake: the CSMS sees a dead socket
                return
            if self.reset_kind is not None or self.reconnect_now:
                return
            if now >= self._heartbeat_due:
                self._heartbeat_due = now + self._heartbeat_interval()
                self.outbox.append(Outgoing("Heartbeat", {}, False))
                continue
            wait = self._heartbeat_due - now
            if self._drops:
                wait = min(wait, max(0.0, self._drops[0] - self.elapsed()))
            self._wake.clear()
            if self.outbox:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _flush(self, conn: RpcConnection, reader: asyncio.Task[None]) -> None:
        """Send the outbox in order; durable messages stay queued until answered.

        A TransactionEvent that gets a CALLERROR or no answer stays at the head of the outbox
        and is sent again (E13), so nothing behind it overtakes it.
        """
        while self.outbox and self.online and not self._stopping.is_set():
            item = self.outbox[0]
            try:
                response = await conn.call(item.action, item.payload)
            except (CallError, CallTimeout) as exc:
                if isinstance(exc, CallTimeout):
                    self.stats.timeouts += 1
                    self.log.warning("station.call_timeout", action=item.action)
                else:
                    self.stats.call_errors += 1
                    self.log.warning("station.call_error", action=item.action, code=exc.code,
                                     reason=exc.description)
                if item.durable and await self._retry_later(item, reader):
                    continue
                if self.outbox and self.outbox[0] is item:
                    self.outbox.popleft()
                if item.reply is not None and not item.reply.done():
                    item.reply.set_exception(exc)
                continue
            self.stats.sent += 1
            self.outbox.popleft()
            if item.reply is not None and not item.reply.done():
                item.reply.set_result(response)
            if item.action == "TransactionEvent":
                self._transaction_answered(item.payload, response)

    async def _retry_later(self, item: Outgoing, reader: asyncio.Task[None]) -> bool:
        """E13: wait before sending ``item`` again; False once its attempts are used up.

        E13.FR.02: at most MessageAttemptsTransactionEvent transmissions. E13.FR.03: before
        transmission n + 1 wait MessageAttemptIntervalTransactionEvent x n seconds. E13.FR.04:
        after the last one the message is discarded (counted and logged as an error).
        The wait ends early when the connection closes (the message then waits for the next
        connection) or the station stops.
        """
        item.attempts += 1
        attempts = int(self.model.get("OCPPCommCtrlr", "MessageAttempts",
                                      instance="TransactionEvent"))
        if item.attempts >= attempts:
            self.stats.discarded += 1
            self.log.error("station.transaction_event_discarded", attempts=item.attempts,
                           seq_no=item.payload.get("seqNo"))
            return False
        self.stats.retries += 1
        interval = int(self.model.get("OCPPCommCtrlr", "MessageAttemptInterval",
                                      instance="TransactionEvent"))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({reader, stopping}, timeout=interval * item.attempts,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        return True

    def _transaction_answered(self, sent: dict[str, Any], response: dict[str, Any]) -> None:
        self.cost.transaction_answered(sent, response)
        info = response.get("idTokenInfo")
        tx = self.evse.tx
        if (info and info.get("status") != "Accepted" and tx is not None
                and tx.transaction_id == sent["transactionInfo"]["transactionId"]
                and self.model.get("TxCtrlr", "StopTxOnInvalidId") == "true"):
            # E05: with StopTxOnInvalidId a token the CSMS does not accept ends the transaction.
            self.enqueue(self.evse.end_transaction(time.time(), "Deauthorized", "DeAuthorized"))
