"""A simulated bidirectional charging station: an OCPP 2.0.1 / 2.1 client over websockets.

Two tasks per station: the connection task (connect, boot, heartbeat, send the outbox in order,
reconnect with backoff) and the operation task (physics, the car, the schedule, meter values).
Every message to the CSMS goes through one FIFO outbox, so the CSMS sees them in the order they
happened. TransactionEvents are durable: while offline they stay queued, flagged
``offline: true``, and are replayed in order on reconnect (E04); one the CSMS answers with a
CALLERROR, or does not answer, is sent again (E13). Other messages are dropped when the station
is offline. The connection task lives in :mod:`simulators.link`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any
from urllib.parse import quote

import structlog

from csms.ocppj import CallError, RpcConnection
from simulators.certificates import StationCertificates
from simulators.charger import PowerTrain
from simulators.cost import CostDisplay
from simulators.devicemodel import DeviceModel, station_schema
from simulators.diagnostics import Diagnostics
from simulators.display import DisplayBoard
from simulators.evse import Evse, EVVisit, Message, iso
from simulators.faults import station_rng
from simulators.firmware import FirmwareUpdater
from simulators.handlers import build_handlers
from simulators.link import Link
from simulators.locallist import LocalList, offline_token_info
from simulators.profiles import StationProfiles
from simulators.reservations import Reservations
from simulators.site import SiteMeter
from simulators.stationconfig import Offline, Outgoing, StationConfig, StationStats

__all__ = ["Offline", "Station", "StationConfig", "StationStats"]


class Station(Link):
    """One simulated station. ``await station.run()`` until :meth:`stop` is called."""

    def __init__(self, config: StationConfig) -> None:
        self.config = config
        self.id = config.station_id
        self.version = config.version
        self.log = structlog.get_logger("simulators.station").bind(station_id=self.id)
        self.rng = station_rng(config.seed, config.station_id)
        spec = config.charger
        schema = station_schema(
            config.version, vendor=spec.vendor, model=spec.model,
            max_charge_w=spec.max_charge_kw * 1000, max_discharge_w=spec.max_discharge_kw * 1000,
            connector_type=spec.connector_type, heartbeat_s=config.heartbeat_s,
            meter_interval_s=config.meter_interval_s)
        self.model = DeviceModel(schema, on_change=self._variable_changed)
        if config.password is not None:
            self.model.set("SecurityCtrlr", "BasicAuthPassword", config.password)
        self.model.set("OCPPCommCtrlr", "MessageAttempts", str(config.message_attempts),
                       instance="TransactionEvent")
        self.model.set("OCPPCommCtrlr", "MessageAttemptInterval",
                       str(config.message_attempt_interval_s), instance="TransactionEvent")
        self.evse = Evse(PowerTrain(spec), config.version, rng=self.rng,
                         energy_unit=config.energy_unit, noise=config.faults.noise_fraction
                         if config.faults.active("meter_noise", 0.0) else 0.0)
        self._apply_measurands()
        self.profiles = StationProfiles(config.version,
                                        max_power_w=spec.max_charge_kw * 1000.0)
        self.arrivals = deque(sorted(config.arrivals, key=lambda a: a[0]))
        self.outbox: deque[Outgoing] = deque()
        self.online = False
        self.conn: RpcConnection | None = None
        self.stats = StationStats()
        self.boot_reason = "PowerUp"
        self.reset_kind: str | None = None
        #: Set when the connection must be opened again at once (a new BasicAuthPassword).
        self.reconnect_now = False
        self.reset_on_idle = False
        self.boot_now = asyncio.Event()
        self._tx_seen: str | None = None
        self.pending_inoperative = False
        self.restart_tx = False
        self.alerting = False
        self.started_at = time.monotonic()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._drops = deque(config.faults.drops_at_s)
        self._meter_due = 0.0
        self._heartbeat_due = 0.0
        self._last_tick = time.monotonic()
        self._setpoint_since: tuple[float | None, float] = (None, 0.0)
        self.firmware = FirmwareUpdater(self)
        self.diagnostics = Diagnostics(self)
        self.certificates = StationCertificates(self)
        self.cost = CostDisplay(self.model)
        self.display = DisplayBoard(
            self.model, lambda: self.evse.tx.transaction_id if self.evse.tx else None)
        self.local_list = LocalList()
        self.reservations = Reservations(self.evse, self.model, spec.connector_type)
        self.handlers = build_handlers(self)
        self.site_meter = (SiteMeter(config.site, config.site_start, [self.evse.train])
                           if config.site is not None else None)
        self._site_due = 0.0

    # -- public -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The websocket URL: the CSMS endpoint followed by the percent-encoded identity."""
        return self.config.url.rstrip("/") + "/" + quote(self.id, safe="")

    def elapsed(self) -> float:
        """Seconds since the station started."""
        return time.monotonic() - self.started_at

    async def run(self) -> None:
        """Run until :meth:`stop`; reconnects on its own."""
        self.started_at = self._last_tick = time.monotonic()
        operate = asyncio.create_task(self._operate())
        try:
            await self._connection_loop()
        finally:
            operate.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await operate

    def stop(self) -> None:
        """Ask :meth:`run` to finish (closes the connection)."""
        self._stopping.set()
        self._wake.set()

    def plug_in(self, visit: EVVisit) -> None:
        """A car arrives now (the operation task authorizes it)."""
        self.arrivals.appendleft((0.0, visit))

    def unplug(self) -> None:
        """The car leaves now."""
        self.enqueue(self.evse.unplug(time.time()))

    def drop_connection(self) -> None:
        """Drop the connection now, as a ``connection_drop`` fault does (no close handshake);
        the station goes on charging as its profiles say and reconnects after its back-off."""
        self._drops.appendleft(self.elapsed())
        self._wake.set()

    def wake(self) -> None:
        """Let the connection task look at the outbox and pending work now."""
        self._wake.set()

    def schedule_reset(self) -> None:
        """Reboot: close the connection and boot again with reason RemoteReset."""
        self.boot_reason = "RemoteReset"
        self.reset_kind = "Immediate"
        self._wake.set()

    def profiles_changed(self) -> None:
        """Keep SmartChargingCtrlr.Entries equal to the number of installed profiles."""
        self.model.set("SmartChargingCtrlr", "Entries", str(len(self.profiles)),
                       instance="ChargingProfiles")

    def enqueue(self, messages: list[Message]) -> None:
        """Put messages in the outbox in order; offline, only TransactionEvents are kept."""
        for action, payload in messages:
            durable = action == "TransactionEvent"
            if not self.online:
                if not durable:
                    continue
                payload["offline"] = True  # E04: events that happened while offline
            self.outbox.append(Outgoing(action, payload, durable))
        self._wake.set()

    async def request(self, action: str, payload: dict[str, Any],
                      timeout: float | None = None) -> dict[str, Any]:
        """Send through the outbox and wait for the answer; raises :class:`Offline`."""
        if not self.online:
            raise Offline(action)
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.outbox.append(Outgoing(action, payload, False, reply))
        self._wake.set()
        return await asyncio.wait_for(reply, timeout or self.config.call_timeout_s + 5)

    # -- operation ----------------------------------------------------------------------

    def _variable_changed(self, component: str, variable: str) -> None:
        if component == "SampledDataCtrlr":
            self._apply_measurands()
            self._meter_due = min(self._meter_due, time.monotonic())
        elif (component, variable) == ("OCPPCommCtrlr", "HeartbeatInterval"):
            self._heartbeat_due = time.monotonic() + self._heartbeat_interval()
            self._wake.set()
        elif (component, variable) == ("SecurityCtrlr", "BasicAuthPassword"):
            # A01: log in again with the new password. The SetVariablesResponse is written
            # before the connection task runs again, so the CSMS sees it before the close.
            self.reconnect_now = True
            self._wake.set()

    def _apply_measurands(self) -> None:
        def members(name: str) -> list[str]:
            return [m for m in self.model.get("SampledDataCtrlr", name).split(",") if m]
        self.evse.measurands = members("TxUpdatedMeasurands")
        self.evse.started_measurands = members("TxStartedMeasurands")
        self.evse.ended_measurands = members("TxEndedMeasurands")

    def meter_interval(self) -> float:
        """TxUpdatedInterval in seconds (0: no periodic meter values)."""
        return float(self.model.get("SampledDataCtrlr", "TxUpdatedInterval"))

    async def _operate(self) -> None:
        while True:
            await self.tick()
            await asyncio.sleep(self.config.control_interval_s)

    async def tick(self) -> None:
        """Advance physics to now and do whatever is due: arrivals, control, meter values."""
        mono = time.monotonic()
        self.evse.train.advance(max(0.0, mono - self._last_tick))
        self._last_tick = mono
        now = time.time()
        evse = self.evse
        faults = self.config.faults
        elapsed = mono - self.started_at
        # A car already waiting at power-up is detected once the station has booted.
        if (self.arrivals and evse.visit is None and self.arrivals[0][0] <= now
                and self.stats.boots > 0):
            await self._arrive(self.arrivals.popleft()[1], now)
        visit = evse.visit
        if visit is not None and (now >= visit.departure_at or
                                  faults.active("early_unplug", elapsed)):
            if now < visit.departure_at:
                self.stats.fault("early_unplug")
                faults.since.pop("early_unplug")
            self.enqueue(evse.unplug(now))
        if self.restart_tx and evse.visit is not None and evse.tx is None and self.online:
            self.restart_tx = False
            visit = evse.visit
            no_auth = visit.token_type == "NoAuthorization"
            token = {"idToken": visit.id_token, "type": visit.token_type} if no_auth else None
            self.enqueue(evse.start_transaction(now, "EVDetected", id_token=token))
            if not no_auth:
                await self._authorize(visit, now)
        tx_id = evse.tx.transaction_id if evse.tx else None
        if tx_id != self._tx_seen:
            if self._tx_seen is not None:
                self.profiles.transaction_ended(self._tx_seen)
                self.profiles_changed()
            if tx_id is not None:
                self.profiles.transaction_started(now)
            self._tx_seen = tx_id
        self.enqueue(self.reservations.expire(now))
        if faults.active("connector_fault", elapsed) and not evse.faulted:
            self.stats.fault("connector_fault")
            self.enqueue(evse.fault(now) + self.reservations.release(now, "Removed", notify=False))
        if self.reset_on_idle and evse.tx is None:
            self.reset_on_idle = False
            self.schedule_reset()
        evse.requested_kw = self.profiles.requested_kw(now, tx_id, evse.train.voltage_v)
        stuck = faults.active("stuck_at_zero", elapsed) and len(self.profiles) > 0
        self.enqueue(evse.control(now, stuck=stuck))
        if evse.tx is None and self.pending_inoperative:
            self.pending_inoperative = False
            evse.operative = False
            self.enqueue([evse.status_notification(now)])
        interval = self.meter_interval()
        if evse.tx is not None and interval > 0 and mono >= self._meter_due:
            self._meter_due = mono + interval
            if faults.active("meter_silence", elapsed):
                self.stats.fault("meter_silence")
            else:
                self.enqueue(evse.periodic_update(now))
        if self.site_meter is not None and mono >= self._site_due:
            self._site_due = mono + self.site_meter.spec.meter_interval_s
            self.enqueue([("MeterValues", {"evseId": 0, "meterValue": [
                self.site_meter.sample(now, iso)]})])
        if not stuck:
            self._check_setpoint(now, mono)
        self.enqueue(self.diagnostics.tick(now))

    async def _arrive(self, visit: EVVisit, now: float) -> None:
        self.enqueue(self.evse.plug_in(visit, now))
        if visit.token_type != "NoAuthorization":
            await self._authorize(visit, now)

    async def _authorize(self, visit: EVVisit, now: float) -> None:
        """C01: Authorize the driver's token; offline, the Local Authorization List or
        LocalAuthorizeOffline decides (C13). A reserved EVSE takes only its reservation's
        token or group (H03)."""
        token = {"idToken": visit.id_token, "type": visit.token_type}
        try:
            info = (await self.request("Authorize", {"idToken": token}))["idTokenInfo"]
        except (Offline, CallError, TimeoutError):
            info = offline_token_info(self.model, self.local_list, token, time.time())
        if info["status"] != "Accepted":
            return
        now = time.time()
        admitted, reservation_id, used = self.reservations.claim(token, info.get("groupIdToken"),
                                                                 now)
        if admitted:
            self.enqueue(self.evse.authorize(now, token, "Authorized", reservation_id) + used)

    def _check_setpoint(self, now: float, mono: float) -> None:
        """Tell the CSMS (NotifyEvent) when the car cannot deliver the requested discharge."""
        requested = self.evse.requested_kw
        if requested != self._setpoint_since[0]:
            self._setpoint_since = (requested, mono)
        spec = self.config.charger
        settle = spec.latency_s + spec.max_discharge_kw / spec.ramp_kw_per_s
        settled = mono - self._setpoint_since[1] >= settle + self.config.report_grace_s
        shortfall = self.evse.discharge_shortfall_kw()
        failing = settled and shortfall > max(0.5, 0.05 * abs(requested or 0.0))
        if failing == self.alerting or (failing and not settled):
            return
        self.alerting = failing
        if failing:
            self.stats.setpoint_alerts += 1
        self.enqueue([self.evse.setpoint_event(now, self.stats.setpoint_alerts, failing)])
