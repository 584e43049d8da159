"""Stored fleet history for the plug-in forecast's tests and backtest: sessions written as
the transactions block writes them (TransactionEvent Started and Ended, SoC meter values)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from csms.store import stations, transactions
from csms.store.db import Db, open_pool
from csms.store.metering import MeterSample, insert_meter_values
from csms.store.transactions import TxEvent


@dataclass(frozen=True)
class PastSession:
    """A car at a station from ``start`` to ``end`` at SoC ``soc`` (fraction)."""

    station_id: str
    start: datetime
    end: datetime
    soc: float


async def store_sessions(db: Db, sessions: Sequence[PastSession]) -> None:
    """Write the sessions (stations registered as needed), with an hourly SoC reading."""
    known: set[str] = set()
    for n, s in enumerate(sessions):
        if s.station_id not in known:
            if await stations.get_station(db, s.station_id) is None:
                await stations.register_station(db, s.station_id, "history-password-01")
            known.add(s.station_id)
        tx = f"h{n}"
        samples = []
        t = s.start
        while t < s.end:
            samples.append(MeterSample(evse_id=1, transaction_id=tx, timestamp=t,
                                       measurand="SoC", value=s.soc * 100, unit="Percent",
                                       phase=None, location="EV", context="Sample.Periodic"))
            t += timedelta(minutes=30)
        await transactions.record_transaction_event(db, s.station_id, TxEvent(
            transaction_id=tx, seq_no=0, event_type="Started", timestamp=s.start,
            trigger_reason="CablePluggedIn", evse_id=1, connector_id=1), samples[:1])
        await insert_meter_values(db, s.station_id, samples[1:])
        await transactions.record_transaction_event(db, s.station_id, TxEvent(
            transaction_id=tx, seq_no=1, event_type="Ended", timestamp=s.end,
            trigger_reason="EVDeparted", stopped_reason="EVDisconnected"), [])


# Monday 2026-06-01; four weeks of history before Monday 2026-06-29
WEEK0 = datetime(2026, 6, 1, tzinfo=UTC)
NOW = WEEK0 + timedelta(weeks=4)


def three_stations() -> list[PastSession]:
    """Four weeks from WEEK0: CP-1 every weekday 15:00-22:00 at 80 %, CP-2 on Mondays,
    Wednesdays and Fridays at 60 %, CP-3 every morning 07:00-11:00 at 90 %."""
    out = []
    for week in range(4):
        for day in range(7):
            base = WEEK0 + timedelta(weeks=week, days=day)
            if day < 5:
                out.append(PastSession("CP-1", base + timedelta(hours=15),
                                       base + timedelta(hours=22), 0.8))
            if day in (0, 2, 4):
                out.append(PastSession("CP-2", base + timedelta(hours=15),
                                       base + timedelta(hours=22), 0.6))
            out.append(PastSession("CP-3", base + timedelta(hours=7),
                                   base + timedelta(hours=11), 0.9))
    return out


async def store_recent_weeks(database_url: str) -> None:
    """:func:`three_stations`, moved to the four weeks before now (whole weeks, so the
    weekdays stay)."""
    pool = await open_pool(database_url)
    try:
        shift = (datetime.now(UTC) - NOW).days // 7 * 7
        await store_sessions(pool, [
            PastSession(s.station_id, s.start + timedelta(days=shift),
                        s.end + timedelta(days=shift), s.soc) for s in three_stations()])
    finally:
        await pool.close()
