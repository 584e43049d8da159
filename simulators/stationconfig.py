"""What a station is made of (its configuration) and what it keeps count of."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from simulators.charger import FE_20, ChargerSpec
from simulators.evse import EVVisit
from simulators.faults import FaultPlan
from simulators.site import SiteSpec

SUBPROTOCOL = {"2.0.1": "ocpp2.0.1", "2.1": "ocpp2.1"}


class Offline(Exception):
    """The message could not be sent because the station is not connected."""


#: The units a station may report its energy (and power) readings in.
ENERGY_UNITS = ("Wh", "kWh")


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
    #: Reconnect back-off (Part 4, 5.3): the first wait is ``backoff_min_s``
    #: (RetryBackOffWaitMinimum) plus a random share of ``backoff_random_s``
    #: (RetryBackOffRandomRange); it doubles ``backoff_repeat_times`` times
    #: (RetryBackOffRepeatTimes), then stays.
    backoff_min_s: float = 1.0
    backoff_random_s: float = 5.0
    backoff_repeat_times: int = 5
    #: Seconds to wait for the CSMS's answer (OCPPCommCtrlr.MessageTimeout).
    call_timeout_s: float = 30.0
    #: TLS (wss://): the CA to trust (default: the system's), and for security profile 3 the
    #: station's client certificate and key (PEM files).
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    #: E13: transmissions of a TransactionEvent the CSMS fails to process
    #: (MessageAttemptsTransactionEvent) and the wait unit between them
    #: (MessageAttemptIntervalTransactionEvent, seconds).
    message_attempts: int = 3
    message_attempt_interval_s: int = 10
    ping_interval_s: float | None = 30.0
    compression: bool = True
    report_grace_s: float = 5.0
    firmware_version: str = "1.4.2-sim"
    #: Units of the energy and power readings: "Wh" (Wh and W) or "kWh" (kWh and kW).
    energy_unit: str = "Wh"
    seed: int = 0
    faults: FaultPlan = field(default_factory=FaultPlan)
    arrivals: list[tuple[float, EVVisit]] = field(default_factory=list)
    #: this station's EVSE 0 is the main meter of this site (building load + the site's
    #: chargers), its profile counted from ``site_start`` (epoch seconds)
    site: SiteSpec | None = None
    site_start: float = 0.0

    def __post_init__(self) -> None:
        if self.version not in SUBPROTOCOL:
            raise ValueError(f"OCPP version must be 2.0.1 or 2.1, got {self.version!r}")
        if self.energy_unit not in ENERGY_UNITS:
            raise ValueError(f"energy_unit must be Wh or kWh, got {self.energy_unit!r}")
        if self.message_attempts < 1:
            raise ValueError(f"message_attempts must be at least 1, got {self.message_attempts}")


@dataclass
class Outgoing:
    """A message waiting in the outbox; ``reply`` receives the CSMS's answer if wanted."""

    action: str
    payload: dict[str, Any]
    durable: bool
    reply: asyncio.Future[dict[str, Any]] | None = None
    #: Transmissions the CSMS failed to process (CALLERROR or no answer), for E13.
    attempts: int = 0


@dataclass
class StationStats:
    """Counters a fleet summary adds up."""

    connects: int = 0
    connect_failures: int = 0
    drops: int = 0
    boots: int = 0
    sent: int = 0
    call_errors: int = 0
    timeouts: int = 0
    #: TransactionEvents sent again after a CALLERROR or no answer (E13.FR.01).
    retries: int = 0
    #: TransactionEvents given up after MessageAttempts transmissions (E13.FR.04).
    discarded: int = 0
    setpoint_alerts: int = 0
    #: time.monotonic() of every successful connection, to measure a fleet's reconnect spread.
    connected_at: list[float] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)

    def fault(self, kind: str) -> None:
        """Count one occurrence of a fault."""
        self.faults[kind] = self.faults.get(kind, 0) + 1
