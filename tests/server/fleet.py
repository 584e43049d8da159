"""A small simulated fleet for the fault tests, and the check that nothing was lost or doubled.

Every station has a car charging from the start (no authorization needed), sends a meter value
every second, retries TransactionEvents generously (E13) and reconnects with jitter. After a
fault the test unplugs every car and :func:`verify_transactions` compares what the CSMS stored
with what each simulator knows it sent and metered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from simulators.battery import LEAF_40, Battery
from simulators.charger import ChargerSpec
from simulators.evse import EVVisit
from simulators.station import Station, StationConfig
from tests.server.helpers import until

PASSWORD = "fleet-password-0001"
# Fast dynamics, so that a car draws power within a fraction of a second.
QUICK_FE20 = ChargerSpec(model="FE-20", vendor="Fermata Energy", max_charge_kw=20.0,
                         max_discharge_kw=20.0, latency_s=0.2, ramp_kw_per_s=40.0)


def fleet(url: str, count: int, prefix: str = "F", *, soc: float = 0.3,
          **overrides: Any) -> list[Station]:
    """``count`` stations ``prefix1..``, each with a LEAF at ``soc`` charging until told to
    leave."""
    stations = []
    for n in range(1, count + 1):
        settings: dict[str, Any] = {
            "password": PASSWORD, "charger": QUICK_FE20, "meter_interval_s": 1,
            "control_interval_s": 0.1, "backoff_min_s": 0.5, "backoff_random_s": 2.0,
            "backoff_repeat_times": 2, "message_attempts": 30, "message_attempt_interval_s": 1,
            "seed": 7, **overrides}
        config = StationConfig(station_id=f"{prefix}{n}", url=url, **settings)
        visit = EVVisit(Battery(LEAF_40, soc=soc, floor_soc=0.2),
                        departure_at=time.time() + 86400, target_soc=0.95, id_token="",
                        token_type="NoAuthorization")
        config.arrivals.append((0.0, visit))
        stations.append(Station(config))
    return stations


@dataclass
class Running:
    """Stations running in the test's event loop."""

    stations: list[Station]
    tasks: list[asyncio.Task[None]]

    @classmethod
    def start(cls, stations: list[Station]) -> Running:
        return cls(stations, [asyncio.create_task(s.run()) for s in stations])

    def unplug_all(self) -> None:
        """Every driver leaves: each transaction ends (EVDeparted)."""
        for station in self.stations:
            if station.evse.visit is not None:
                station.unplug()

    async def stop(self) -> None:
        for station in self.stations:
            station.stop()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, 30)


async def register(pool: asyncpg.Pool, stations: list[Station]) -> None:
    """Register every station with the fleet password (hashed once, stored for all)."""
    from csms.store.passwords import hash_password
    from csms.store.stations import register_station

    hashed = hash_password(PASSWORD)
    for station in stations:
        await register_station(pool, station.id, None, password_hash=hashed)


async def events_stored(pool: asyncpg.Pool) -> dict[str, int]:
    """TransactionEvents stored per station."""
    rows = await pool.fetch("SELECT station_id, count(*) AS n FROM transaction_events"
                            " GROUP BY station_id")
    return {r["station_id"]: r["n"] for r in rows}


async def each_has_events(pool: asyncpg.Pool, stations: list[Station], count: int) -> bool:
    """Whether every station has at least ``count`` TransactionEvents stored."""
    stored = await events_stored(pool)
    return len(stored) == len(stations) and min(stored.values()) >= count


async def all_ended(pool: asyncpg.Pool, stations: list[Station]) -> bool:
    """Whether every station's transaction is stored as ended."""
    ended = await pool.fetchval(
        "SELECT count(*) FROM transactions WHERE ended_at IS NOT NULL"
        " AND station_id = ANY($1::text[])", [s.id for s in stations])
    return ended == len(stations)


@dataclass
class Audit:
    """What the CSMS stored compared with what each simulated station sent and metered."""

    stations: int = 0
    events: int = 0
    #: Stations whose stored seqNos have a gap, or whose transaction has not ended.
    gaps: list[str] = field(default_factory=list)
    #: Sampled values stored more than once.
    doubled: int = 0
    #: Stations whose stored energy differs from their own registers by 2 mWh or more.
    energy_mismatches: list[str] = field(default_factory=list)
    largest_energy_error_wh: float = 0.0
    energy_wh: float = 0.0
    #: TransactionEvents a station gave up on (E13.FR.04) or still holds.
    discarded: int = 0
    queued: int = 0

    @property
    def clean(self) -> bool:
        """Nothing lost, nothing doubled, every energy right."""
        return not (self.gaps or self.doubled or self.energy_mismatches or self.discarded
                    or self.queued)


async def audit(pool: asyncpg.Pool, stations: list[Station]) -> Audit:
    """Compare every station's transaction in the CSMS with the simulator's own account."""
    report = Audit(stations=len(stations))
    for station in stations:
        report.queued += sum(1 for item in station.outbox if item.durable)
        report.discarded += station.stats.discarded
        battery = station.config.arrivals[0][1].battery
        report.energy_wh += battery.import_wh
        rows = await pool.fetch(
            "SELECT transaction_id, seq_no, event_type FROM transaction_events"
            " WHERE station_id = $1 ORDER BY seq_no", station.id)
        seqs = [r["seq_no"] for r in rows]
        report.events += len(rows)
        # Nothing lost: one transaction, seqNo 0..n without a gap, Started first, Ended last.
        if (len({r["transaction_id"] for r in rows}) != 1 or seqs != list(range(len(seqs)))
                or rows[0]["event_type"] != "Started" or rows[-1]["event_type"] != "Ended"):
            report.gaps.append(station.id)
            continue
        report.doubled += await pool.fetchval(
            "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM meter_values"
            " WHERE station_id = $1 GROUP BY transaction_id, timestamp, measurand, phase,"
            " location, context HAVING count(*) > 1) d", station.id)
        tx = await pool.fetchrow(
            "SELECT energy_import_end - energy_import_start AS imported,"
            " energy_export_end - energy_export_start AS exported FROM transactions"
            " WHERE station_id = $1", station.id)
        for stored, metered in ((tx["imported"], battery.import_wh),
                                (tx["exported"], battery.export_wh)):
            error = abs((stored or 0.0) - metered)
            report.largest_energy_error_wh = max(report.largest_energy_error_wh, error)
            if error >= 0.002:  # the wire rounds registers to 1 mWh
                report.energy_mismatches.append(station.id)
    return report


async def verify_transactions(pool: asyncpg.Pool, stations: list[Station]) -> Audit:
    """Assert that the CSMS holds every TransactionEvent once and each transaction's energy
    equals the simulator's own registers; returns the audit for the test's report."""
    report = await audit(pool, stations)
    assert report.clean, report
    assert all(s.config.arrivals[0][1].battery.import_wh > 0 for s in stations)
    return report


async def end_and_verify(pool: asyncpg.Pool, running: Running,
                         stations: list[Station]) -> Audit:
    """Unplug every car, wait until the CSMS holds every transaction as ended, then
    :func:`verify_transactions`."""
    running.unplug_all()
    await until(lambda: all_ended(pool, stations), what="transactions ended")
    # The CSMS commits an event before it answers: the station drops it from its queue only
    # when the answer arrives, a moment after the row is visible here.
    await until(lambda: not any(item.durable for s in stations for item in s.outbox),
                what="every station's queue answered")
    return await verify_transactions(pool, stations)
