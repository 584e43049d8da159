"""Test data written through the store's own functions, as the server's handlers write it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from csms.store.metering import MeterSample
from csms.store.stations import register_station
from csms.store.transactions import TxEvent, record_transaction_event

T0 = datetime(2026, 11, 5, 16, 0, tzinfo=UTC)


def sample(
    at: datetime, measurand: str, value: float, *, phase: str | None = None, tx: str | None = None
) -> MeterSample:
    """One sampled value on EVSE 1, as a TransactionEvent or MeterValues reports it."""
    return MeterSample(
        evse_id=1,
        transaction_id=tx,
        timestamp=at,
        measurand=measurand,
        phase=phase,
        location="Outlet",
        unit="Wh" if measurand.startswith("Energy") else "W",
        context="Sample.Periodic",
        value=value,
    )


async def discharge_session(db: asyncpg.Pool, station_id: str = "CP-1", tx: str = "TX-1") -> None:
    """A station and one ended V2G transaction: 1 kWh imported, then 3 kWh exported, 1 hour."""
    await register_station(db, station_id, "correct-horse-battery")
    events = [
        (0, "Started", T0, 10_000.0, 5_000.0),
        (1, "Updated", T0 + timedelta(minutes=30), 11_000.0, 6_000.0),
        (2, "Ended", T0 + timedelta(hours=1), 11_000.0, 8_000.0),
    ]
    for seq, kind, at, imported, exported in events:
        event = TxEvent(
            transaction_id=tx,
            seq_no=seq,
            event_type=kind,
            timestamp=at,
            trigger_reason="MeterValuePeriodic",
            charging_state="Charging" if kind != "Ended" else "Idle",
            stopped_reason="EVDisconnected" if kind == "Ended" else None,
            evse_id=1,
            connector_id=1,
            id_token="04A2B3C4" if kind == "Started" else None,
            id_token_type="ISO14443" if kind == "Started" else None,
        )
        samples = [
            sample(at, "Energy.Active.Import.Register", imported, tx=tx),
            sample(at, "Energy.Active.Export.Register", exported, tx=tx),
            sample(at, "Power.Active.Import", -7000.0, phase="L1", tx=tx),
        ]
        await record_transaction_event(db, station_id, event, samples)


async def open_session(db: asyncpg.Pool, station_id: str = "CP-2", tx: str = "TX-2") -> None:
    """A second station with a transaction that has started and not ended."""
    await register_station(db, station_id, "correct-horse-battery")
    event = TxEvent(
        transaction_id=tx,
        seq_no=0,
        event_type="Started",
        timestamp=T0 + timedelta(hours=2),
        trigger_reason="Authorized",
        evse_id=1,
        connector_id=1,
    )
    await record_transaction_event(
        db,
        station_id,
        event,
        [sample(T0 + timedelta(hours=2), "Energy.Active.Import.Register", 1.0)],
    )
