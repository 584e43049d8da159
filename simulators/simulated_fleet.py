"""Many simulated stations in one process: building them from a scenario, running, summarising.

Each station is two asyncio tasks (connection and operation) plus the RPC layer's reader while
connected; no threads. Starts are spread out so that thousands of stations do not all open their
connection in the same instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulators.battery import Battery
from simulators.evse import EVVisit
from simulators.faults import plan_faults, station_rng
from simulators.scenario import Scenario
from simulators.station import Station, StationConfig

ACTIVE_KW = 0.05
DEFAULT_HORIZON_S = 4 * 3600.0


def station_ids(prefix: str, count: int) -> list[str]:
    """The identities of a fleet: the prefix followed by 1, 2, ... ``count``."""
    return [f"{prefix}{n}" for n in range(1, count + 1)]


def token_for(station_id: str) -> str:
    """The RFID token of the driver at a station when the fleet authorizes with tokens."""
    return f"TOK-{station_id}"[:36]


AUTHORIZATION_MODES = ("none", "rfid")


@dataclass(frozen=True)
class FleetOptions:
    """What ``csms-sim run`` was asked for."""

    url: str
    stations: int
    id_prefix: str = "SIM"
    password: str | None = None
    ocpp: str = "2.0.1"
    seed: int = 0
    duration_s: float | None = None
    control_interval_s: float = 1.0
    authorization: str = "none"
    #: TLS: CA file to trust; directory holding <id>.pem and <id>.key client certificates.
    ca_file: str | None = None
    cert_dir: str | None = None
    energy_unit: str = "Wh"


def build_configs(options: FleetOptions, scenario: Scenario,
                  now: float | None = None) -> list[StationConfig]:
    """One StationConfig per station, fully determined by the options, scenario and seed."""
    start = time.time() if now is None else now
    horizon = options.duration_s or DEFAULT_HORIZON_S
    chargers = scenario.chargers(options.stations)
    configs = []
    for index, station_id in enumerate(station_ids(options.id_prefix, options.stations)):
        rng = station_rng(options.seed, station_id)
        scheduled = [f for f in scenario.scheduled
                     if f.station_id in (station_id, str(index + 1))]
        faults = plan_faults(scenario.faults, rng, horizon, scheduled)
        arrival = scenario.arrival_s.draw(rng)
        battery = Battery(scenario.draw_ev(rng), soc=scenario.soc.draw(rng),
                          floor_soc=scenario.floor.draw(rng))
        rfid = (scenario.authorization or options.authorization) == "rfid"
        visit = EVVisit(battery, departure_at=start + arrival + scenario.stay_h.draw(rng) * 3600,
                        target_soc=scenario.target_soc.draw(rng),
                        id_token=token_for(station_id) if rfid else "",
                        token_type="ISO14443" if rfid else "NoAuthorization")
        cert = Path(options.cert_dir) / station_id if options.cert_dir else None
        configs.append(StationConfig(
            station_id=station_id, url=options.url, password=options.password,
            ca_file=options.ca_file, cert_file=f"{cert}.pem" if cert else None,
            key_file=f"{cert}.key" if cert else None,
            version=scenario.ocpp or options.ocpp, charger=chargers[index],
            meter_interval_s=scenario.meter_interval_s,
            control_interval_s=options.control_interval_s, seed=options.seed, faults=faults,
            energy_unit=options.energy_unit, arrivals=[(start + arrival, visit)]))
    return configs


class Fleet:
    """Runs a list of stations and adds up their state."""

    def __init__(self, configs: list[StationConfig], start_rate_per_s: float = 200.0) -> None:
        self.stations = [Station(c) for c in configs]
        self.start_rate_per_s = start_rate_per_s
        self.started_at = time.monotonic()

    async def run(self, duration_s: float | None = None,
                  on_tick: Callable[[dict[str, Any]], None] | None = None,
                  tick_s: float = 2.0) -> dict[str, Any]:
        """Run until ``duration_s`` passes (forever if None) or the task is cancelled.

        ``on_tick`` receives :meth:`summary` every ``tick_s`` seconds. Returns the summary taken
        just before the stations stop.
        """
        self.started_at = time.monotonic()
        tasks = []
        try:
            for index, station in enumerate(self.stations):
                tasks.append(asyncio.create_task(station.run(), name=station.id))
                if self.start_rate_per_s and (index + 1) % 50 == 0:
                    await asyncio.sleep(50 / self.start_rate_per_s)
            deadline = None if duration_s is None else self.started_at + duration_s
            while deadline is None or time.monotonic() < deadline:
                wait = tick_s if deadline is None else min(tick_s, deadline - time.monotonic())
                await asyncio.sleep(max(0.0, wait))
                if on_tick is not None:
                    on_tick(self.summary())
            return self.summary()
        finally:
            for station in self.stations:
                station.stop()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(task, 10)

    def summary(self) -> dict[str, Any]:
        """Connected, charging, discharging, kW in and out, energy, faults, messages."""
        faults: dict[str, int] = {}
        out: dict[str, Any] = {
            "elapsed_s": round(time.monotonic() - self.started_at, 1),
            "stations": len(self.stations), "connected": 0, "charging": 0, "discharging": 0,
            "transactions": 0, "kw_in": 0.0, "kw_out": 0.0, "kwh_in": 0.0, "kwh_out": 0.0,
            "queued_events": 0, "messages_sent": 0, "call_errors": 0, "connects": 0,
            "setpoint_alerts": 0,
        }
        for station in self.stations:
            power = station.evse.train.power_kw
            battery = station.evse.train.battery
            out["connected"] += station.online
            out["charging"] += power > ACTIVE_KW
            out["discharging"] += power < -ACTIVE_KW
            out["transactions"] += station.evse.tx is not None
            out["kw_in"] += max(power, 0.0)
            out["kw_out"] += max(-power, 0.0)
            if battery is not None:
                out["kwh_in"] += battery.import_wh / 1000
                out["kwh_out"] += battery.export_wh / 1000
            out["queued_events"] += len(station.outbox)
            out["messages_sent"] += station.stats.sent
            out["call_errors"] += station.stats.call_errors
            out["connects"] += station.stats.connects
            out["setpoint_alerts"] += station.stats.setpoint_alerts
            for kind, count in station.stats.faults.items():
                faults[kind] = faults.get(kind, 0) + count
        for key in ("kw_in", "kw_out", "kwh_in", "kwh_out"):
            out[key] = round(out[key], 2)
        out["faults"] = dict(sorted(faults.items()))
        return out


def summary_line(summary: dict[str, Any]) -> str:
    """One human line: the figures an operator watches."""
    faults = sum(summary["faults"].values())
    return (f"t={summary['elapsed_s']:>7.1f}s connected {summary['connected']}/"
            f"{summary['stations']} charging {summary['charging']} discharging "
            f"{summary['discharging']} in {summary['kw_in']:.1f} kW out {summary['kw_out']:.1f} kW"
            f" queued {summary['queued_events']} faults {faults}")
