"""Monitoring (N02 to N06): set and clear variable monitors, choose the monitoring base and
level, and fetch a station's monitoring report (its NotifyMonitoringReport parts are stored by
:mod:`csms.blocks.diagnostics`). SetVariableMonitoring and ClearVariableMonitoring are split to
the station's ItemsPerMessage / BytesPerMessage limits by the operations client."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from csms.operations.client import DEFAULT_TIMEOUT, Operations
from csms.operations.outcome import Outcome
from csms.store import diagnostics, reports
from csms.store.reports import MonitoredVariable

MONITOR_TYPES = ("UpperThreshold", "LowerThreshold", "Delta", "Periodic",
                 "PeriodicClockAligned")
MONITORING_BASES = ("All", "FactoryDefault", "HardWiredOnly")
CRITERIA = ("ThresholdMonitoring", "DeltaMonitoring", "PeriodicMonitoring")


@dataclass(frozen=True)
class MonitorSpec:
    """One monitor to set: where (wire ComponentType / VariableType), what, how severe.
    ``monitor_id`` replaces that existing monitor; ``transaction``: only while a transaction
    runs."""

    component: dict[str, Any]
    variable: dict[str, Any]
    monitor_type: str
    value: float
    severity: int
    monitor_id: int | None = None
    transaction: bool = False

    def to_wire(self) -> dict[str, Any]:
        """The SetMonitoringData entry."""
        data: dict[str, Any] = {"value": self.value, "type": self.monitor_type,
                                "severity": self.severity, "component": self.component,
                                "variable": self.variable}
        if self.monitor_id is not None:
            data["id"] = self.monitor_id
        if self.transaction:
            data["transaction"] = True
        return data


async def set_monitors(ops: Operations, station_id: str, monitors: Sequence[MonitorSpec], *,
                       timeout: float = DEFAULT_TIMEOUT) -> Outcome:
    """SetVariableMonitoring (N04); the response lists one result per monitor, each with the
    id the station gave it when Accepted."""
    payload = {"setMonitoringData": [m.to_wire() for m in monitors]}
    return await ops.call(station_id, "SetVariableMonitoring", payload, timeout=timeout)


async def clear_monitors(ops: Operations, station_id: str, monitor_ids: Sequence[int], *,
                         timeout: float = DEFAULT_TIMEOUT) -> Outcome:
    """ClearVariableMonitoring (N06); one result (Accepted, Rejected, NotFound) per id."""
    return await ops.call(station_id, "ClearVariableMonitoring", {"id": list(monitor_ids)},
                          timeout=timeout)


async def set_base(ops: Operations, station_id: str, base: str, *,
                   timeout: float = DEFAULT_TIMEOUT) -> Outcome:
    """SetMonitoringBase (N03): All, FactoryDefault or HardWiredOnly."""
    return await ops.call(station_id, "SetMonitoringBase", {"monitoringBase": base},
                          timeout=timeout)


async def set_level(ops: Operations, station_id: str, severity: int, *,
                    timeout: float = DEFAULT_TIMEOUT) -> Outcome:
    """SetMonitoringLevel (N05): report only events of this severity or more severe (0-9)."""
    return await ops.call(station_id, "SetMonitoringLevel", {"severity": severity},
                          timeout=timeout)


@dataclass(frozen=True)
class MonitoringReport:
    """A GetMonitoringReport and what the station reported for it: ``complete`` once every
    NotifyMonitoringReport part arrived (an EmptyResultSet answer is complete and empty)."""

    outcome: Outcome
    request_id: int
    complete: bool
    monitors: list[MonitoredVariable]


async def monitoring_report(
    ops: Operations, station_id: str, *, criteria: Sequence[str] = (),
    component_variables: Sequence[dict[str, Any]] = (), timeout: float = DEFAULT_TIMEOUT,
    poll_s: float = 0.2,
) -> MonitoringReport:
    """GetMonitoringReport (N02), then wait (within ``timeout`` seconds in all) for its parts."""
    pool = ops.pool
    request_id = await diagnostics.next_request_id(pool)
    payload: dict[str, Any] = {"requestId": request_id}
    if criteria:
        payload["monitoringCriteria"] = list(criteria)
    if component_variables:
        payload["componentVariable"] = list(component_variables)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    outcome = await ops.call(station_id, "GetMonitoringReport", payload, timeout=timeout)
    if not outcome.ok:
        empty = outcome.station_status == "EmptyResultSet"
        return MonitoringReport(outcome, request_id, empty, [])
    while True:
        complete = await diagnostics.report_complete(pool, station_id, "NotifyMonitoringReport",
                                                     request_id)
        if complete or loop.time() >= deadline:
            break
        await asyncio.sleep(poll_s)
    monitors = await reports.monitoring_report(pool, station_id, request_id)
    return MonitoringReport(outcome, request_id, complete, monitors)
