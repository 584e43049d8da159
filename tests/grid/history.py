"""Stored fleet history for the plug-in forecast's tests and backtest: sessions written as
the transactions block writes them (TransactionEvent Started and Ended, SoC meter values)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from csms.store import stations, transactions
from csms.store.db import Db
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
