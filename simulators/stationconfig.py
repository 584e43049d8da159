"""What a station is made of (its configuration) and what it keeps count of."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from simulators.charger import FE_20, ChargerSpec
from simulators.evse import EVVisit
from simulators.faults import FaultPlan

SUBPROTOCOL = {"2.0.1": "ocpp2.0.1", "2.1": "ocpp2.1"}


class Offline(Exception):
    """The message could not be sent because the station is not connected."""


@dataclass
class StationConfig:
    """Everything that makes one station; every figure can be chosen per station."""

    station_id: str
    url: str
    password: str | None = None
    version: str = "2.0.1"
    charger: ChargerSpec = FE_20
    meter_interval_s: int = 60
    heartbeat_s: int = 300
    control_interval_s: float = 1.0
    backoff_min_s: float = 1.0
    backoff_max_s: float = 60.0
    call_timeout_s: float = 30.0
    ping_interval_s: float | None = 30.0
    compression: bool = True
    report_grace_s: float = 5.0
    firmware_version: str = "1.4.2-sim"
    seed: int = 0
    faults: FaultPlan = field(default_factory=FaultPlan)
    arrivals: list[tuple[float, EVVisit]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.version not in SUBPROTOCOL:
            raise ValueError(f"OCPP version must be 2.0.1 or 2.1, got {self.version!r}")


@dataclass
class Outgoing:
    """A message waiting in the outbox; ``reply`` receives the CSMS's answer if wanted."""

    action: str
    payload: dict[str, Any]
    durable: bool
    reply: asyncio.Future[dict[str, Any]] | None = None


@dataclass
class StationStats:
    """Counters a fleet summary adds up."""

    connects: int = 0
    drops: int = 0
    boots: int = 0
    sent: int = 0
    call_errors: int = 0
    setpoint_alerts: int = 0
    faults: dict[str, int] = field(default_factory=dict)

    def fault(self, kind: str) -> None:
        """Count one occurrence of a fault."""
        self.faults[kind] = self.faults.get(kind, 0) + 1
