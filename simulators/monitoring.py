"""Variable monitors of a simulated station (N02 to N07).

The station keeps its monitors: two of its own (a hard-wired and a preconfigured upper
threshold on the enclosure temperature) and the custom ones the CSMS sets. Each control step
the monitored values are read (the EVSE's power from the power train, the temperature from a
first-order thermal model driven by that power, anything else from the device model) and a
monitor that fires sends NotifyEvent: a threshold crossed (trigger Alerting, and Alerting with
``cleared`` when the value comes back), a change of at least the delta (Delta), or the period
(Periodic, PeriodicClockAligned). Only monitors of the active base are evaluated, and only
events whose severity is at or below the monitoring level are reported (N05).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simulators.devicemodel import Key
from simulators.evse import Message, iso

if TYPE_CHECKING:
    from simulators.port import StationPort

NUMERIC = frozenset({"integer", "decimal"})
THRESHOLDS = frozenset({"UpperThreshold", "LowerThreshold"})
PERIODIC = frozenset({"Periodic", "PeriodicClockAligned"})
CRITERIA = {"ThresholdMonitoring": THRESHOLDS, "DeltaMonitoring": {"Delta"},
            "PeriodicMonitoring": PERIODIC}
#: Thermal model: ambient temperature, degrees per kW of power, time constant (s).
AMBIENT_C, C_PER_KW, THERMAL_TAU_S = 25.0, 1.2, 120.0
TEMPERATURE: Key = ("TemperatureSensor", None, None, "Temperature", None)
POWER: Key = ("EVSE", 1, None, "Power", None)
FIRST_CUSTOM_ID = 100


@dataclass
class Monitor:
    """One monitor and what it needs to tell when it fires."""

    id: int
    key: Key
    component: dict[str, Any]
    variable: dict[str, Any]
    type: str
    value: float
    severity: int
    kind: str = "CustomMonitor"  # HardWiredMonitor, PreconfiguredMonitor, CustomMonitor
    transaction: bool = False
    alerting: bool = False
    reference: str | None = None
    due: float = 0.0

    def wire(self, version: str) -> dict[str, Any]:
        """The VariableMonitoringType of a monitoring report."""
        out: dict[str, Any] = {"id": self.id, "transaction": self.transaction,
                               "value": self.value, "type": self.type,
                               "severity": self.severity}
        if version == "2.1":
            out["eventNotificationType"] = self.kind
        return out


def _status(status: str, reason: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"status": status}
    if reason is not None:
        out["statusInfo"] = {"reasonCode": reason}
    return out


@dataclass
class Monitors:
    """The station's monitors, its monitoring base and level, and the values they watch."""

    station: StationPort
    monitors: dict[int, Monitor] = field(default_factory=dict)
    base: str = "All"
    level: int = 9
    temperature_c: float = AMBIENT_C
    _next_id: int = FIRST_CUSTOM_ID
    _event_id: int = 1000
    _last: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        for monitor in self._own():
            self.monitors[monitor.id] = monitor

    def _own(self) -> list[Monitor]:
        component, variable = {"name": "TemperatureSensor"}, {"name": "Temperature"}
        return [Monitor(1, TEMPERATURE, component, variable, "UpperThreshold", 70.0, 2,
                        "HardWiredMonitor"),
                Monitor(2, TEMPERATURE, component, variable, "UpperThreshold", 60.0, 4,
                        "PreconfiguredMonitor")]

    def handlers(self) -> dict[str, Any]:
        """The CSMS -> station actions this module answers."""
        return {"SetVariableMonitoring": self.set_monitoring,
                "ClearVariableMonitoring": self.clear_monitoring,
                "SetMonitoringBase": self.set_base, "SetMonitoringLevel": self.set_level,
                "GetMonitoringReport": self.report}

    def active(self, monitor: Monitor) -> bool:
        """Whether the monitoring base lets ``monitor`` run (N03)."""
        if self.base == "HardWiredOnly":
            return monitor.kind == "HardWiredMonitor"
        return True

    # -- values ---------------------------------------------------------------------------

    def read(self, key: Key) -> str:
        """The present value of a monitored variable."""
        if key == POWER:
            return f"{self.station.evse.train.power_kw * 1000.0:.0f}"
        if key == TEMPERATURE:
            return f"{self.temperature_c:.1f}"
        return self.station.model.value(key)

    def _advance(self, mono: float) -> None:
        """Move the temperature towards the level the present power heats the station to."""
        dt = max(0.0, mono - self._last)
        self._last = mono
        target = AMBIENT_C + C_PER_KW * abs(self.station.evse.train.power_kw)
        self.temperature_c = target + (self.temperature_c - target) * math.exp(
            -dt / THERMAL_TAU_S)
        model = self.station.model
        model.set("TemperatureSensor", "Temperature", self.read(TEMPERATURE))
        model.set("EVSE", "Power", self.read(POWER), evse=1)

    # -- SetVariableMonitoring / ClearVariableMonitoring ------------------------------------

    async def set_monitoring(self, payload: dict[str, Any]) -> dict[str, Any]:
        """N04: set, or replace, monitors; one result per request entry."""
        return {"setMonitoringResult": [self._set_one(d) for d in payload["setMonitoringData"]]}

    def _set_one(self, data: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {"type": data["type"], "severity": data["severity"],
                                  "component": data["component"], "variable": data["variable"]}
        status, reason, monitor = self._check(data)
        if monitor is not None:
            self.monitors[monitor.id] = monitor
            result["id"] = monitor.id
        result.update(_status(status, reason))
        return result

    def _check(self, data: dict[str, Any]) -> tuple[str, str | None, Monitor | None]:
        status, key = self.station.model.resolve(data["component"], data["variable"])
        if key is None:
            return status, None, None
        definition = self.station.model.defs[key]
        kind, value, severity = data["type"], float(data["value"]), data["severity"]
        if not definition.monitorable:
            return "Rejected", "NotMonitorable", None
        if kind not in CRITERIA["ThresholdMonitoring"] | {"Delta"} | PERIODIC:
            return "UnsupportedMonitorType", None, None
        if kind in THRESHOLDS and definition.data_type not in NUMERIC:
            return "UnsupportedMonitorType", None, None
        if not 0 <= severity <= 9 or (kind in PERIODIC and value <= 0) or (
                kind == "Delta" and value < 0):
            return "Rejected", "ValueOutOfRange", None
        wanted = data.get("id")
        if wanted is not None:
            existing = self.monitors.get(wanted)
            if existing is None:
                return "Rejected", "UnknownMonitorId", None
            if existing.kind == "HardWiredMonitor":
                return "Rejected", "HardWired", None
        elif any(m.key == key and m.type == kind and m.severity == severity
                 for m in self.monitors.values()):
            return "Duplicate", None, None
        monitor_id = wanted if wanted is not None else self._new_id()
        monitor = Monitor(monitor_id, key, data["component"], data["variable"], kind, value,
                          severity, transaction=data.get("transaction", False),
                          reference=self.read(key))
        return "Accepted", None, monitor

    def _new_id(self) -> int:
        while self._next_id in self.monitors:
            self._next_id += 1
        self._next_id += 1
        return self._next_id - 1

    async def clear_monitoring(self, payload: dict[str, Any]) -> dict[str, Any]:
        """N06: remove custom or preconfigured monitors; hard-wired ones stay (Rejected)."""
        results = []
        for monitor_id in payload["id"]:
            monitor = self.monitors.get(monitor_id)
            if monitor is None:
                results.append({"id": monitor_id, "status": "NotFound"})
            elif monitor.kind == "HardWiredMonitor":
                results.append({"id": monitor_id, **_status("Rejected", "HardWired")})
            else:
                del self.monitors[monitor_id]
                results.append({"id": monitor_id, "status": "Accepted"})
        return {"clearMonitoringResult": results}

    # -- base, level, report ----------------------------------------------------------------

    async def set_base(self, payload: dict[str, Any]) -> dict[str, Any]:
        """N03: All keeps every monitor; FactoryDefault and HardWiredOnly drop the custom
        ones and restore the station's own."""
        base = payload["monitoringBase"]
        if base != "All":
            self.monitors = {m.id: m for m in self._own()}
        self.base = base
        self.station.model.set("MonitoringCtrlr", "ActiveMonitoringBase", base)
        return _status("Accepted")

    async def set_level(self, payload: dict[str, Any]) -> dict[str, Any]:
        """N05: report only events of this severity or a more severe one (lower number)."""
        severity = payload["severity"]
        if not 0 <= severity <= 9:
            return _status("Rejected", "OutOfRange")
        self.level = severity
        self.station.model.set("MonitoringCtrlr", "ActiveMonitoringLevel", str(severity))
        return _status("Accepted")

    async def report(self, payload: dict[str, Any]) -> dict[str, Any]:
        """N02: NotifyMonitoringReport parts with the monitors that match the criteria and
        components asked for; EmptyResultSet when none does."""
        kinds = set().union(*(CRITERIA[c] for c in payload.get("monitoringCriteria", [])))
        wanted = payload.get("componentVariable", [])
        by_key: dict[Key, list[Monitor]] = {}
        for monitor in sorted(self.monitors.values(), key=lambda m: m.id):
            if (kinds and monitor.type not in kinds) or (wanted and not any(
                    _matches(w, monitor) for w in wanted)):
                continue
            by_key.setdefault(monitor.key, []).append(monitor)
        if not by_key:
            return _status("EmptyResultSet")
        version = self.station.version
        entries = [{"component": ms[0].component, "variable": ms[0].variable,
                    "variableMonitoring": [m.wire(version) for m in ms]}
                   for ms in by_key.values()]
        per = int(self.station.model.get("DeviceDataCtrlr", "ItemsPerMessage",
                                         instance="GetReport"))
        chunks = [entries[i:i + per] for i in range(0, len(entries), per)]
        now = iso(time.time())
        self.station.enqueue([("NotifyMonitoringReport", {
            "requestId": payload["requestId"], "generatedAt": now, "seqNo": seq,
            "tbc": seq < len(chunks) - 1, "monitor": chunk}) for seq, chunk in enumerate(chunks)])
        return _status("Accepted")

    # -- evaluation -------------------------------------------------------------------------

    def check(self, now: float) -> list[Message]:
        """N07/N08: the NotifyEvent for the monitors that fire now (empty list: none)."""
        self._advance(time.monotonic())
        if self.station.model.get("MonitoringCtrlr", "Enabled") != "true":
            return []
        tx = self.station.evse.tx
        events = []
        for monitor in self.monitors.values():
            if not self.active(monitor) or (monitor.transaction and tx is None):
                continue
            event = self._fire(monitor, now)
            if event is not None and monitor.severity <= self.level:
                if tx is not None:
                    event["transactionId"] = tx.transaction_id
                events.append(event)
        if not events:
            return []
        return [("NotifyEvent", {"generatedAt": iso(now), "seqNo": 0, "eventData": events})]

    def _fire(self, monitor: Monitor, now: float) -> dict[str, Any] | None:
        value = self.read(monitor.key)
        if monitor.type in THRESHOLDS:
            number = float(value)
            beyond = (number > monitor.value if monitor.type == "UpperThreshold"
                      else number < monitor.value)
            if beyond == monitor.alerting:
                return None
            monitor.alerting = beyond
            return self._event(monitor, now, "Alerting", value, cleared=not beyond)
        if monitor.type == "Delta":
            if not _changed(monitor.reference, value, monitor.value):
                return None
            monitor.reference = value
            return self._event(monitor, now, "Delta", value)
        period = monitor.value
        if monitor.due == 0.0:
            monitor.due = (now + period if monitor.type == "Periodic"
                           else (now // period + 1) * period)
            return None
        if now < monitor.due:
            return None
        monitor.due = (now + period if monitor.type == "Periodic"
                       else (now // period + 1) * period)
        return self._event(monitor, now, "Periodic", value)

    def _event(self, monitor: Monitor, now: float, trigger: str, value: str,
               cleared: bool | None = None) -> dict[str, Any]:
        self._event_id += 1
        event: dict[str, Any] = {
            "eventId": self._event_id, "timestamp": iso(now), "trigger": trigger,
            "actualValue": value, "component": monitor.component, "variable": monitor.variable,
            "variableMonitoringId": monitor.id, "eventNotificationType": monitor.kind}
        if cleared is not None:
            event["cleared"] = cleared
        if self.station.version == "2.1":
            event["severity"] = monitor.severity
        return event


def _matches(wanted: dict[str, Any], monitor: Monitor) -> bool:
    component = wanted["component"]
    if component.get("name") != monitor.component.get("name"):
        return False
    evse = component.get("evse")
    if evse is not None and evse != monitor.component.get("evse"):
        return False
    variable = wanted.get("variable")
    return variable is None or variable.get("name") == monitor.variable.get("name")


def _changed(reference: str | None, value: str, delta: float) -> bool:
    """Whether ``value`` moved at least ``delta`` from ``reference`` (any change for a
    value that is not a number)."""
    if reference is None:
        return True
    try:
        return abs(float(value) - float(reference)) >= delta and value != reference
    except ValueError:
        return value != reference
