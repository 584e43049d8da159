"""Tariffs (a station's own, or the default) and the cost the CSMS told stations of their
transactions (I02, I03)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from csms.store.base import StationNotFound, StoreError
from csms.store.commands import node_alive
from csms.store.db import Db, connection


class ProgramNotFound(StoreError):
    """A tariff names a program that does not exist."""


@dataclass(frozen=True)
class Tariff:
    """Prices per kWh: ``energy_price`` for energy imported (charged into the car), and a
    credit for energy exported: ``discharge_credit``, or ``credit_program``'s per-kWh rate times
    its drivers' share (``credit`` holds the amount in force when read). ``station_id`` None:
    the default tariff."""

    currency: str
    energy_price: Decimal
    discharge_credit: Decimal | None = None
    credit_program: str | None = None
    station_id: str | None = None
    credit: Decimal = Decimal(0)
    updated_at: datetime | None = None


@dataclass(frozen=True)
class CostInputs:
    """What a transaction's cost is computed from: the tariff that applies and the energy
    imported and exported so far (Wh; None when no register was read)."""

    tariff: Tariff
    imported_wh: float | None
    exported_wh: float | None


@dataclass(frozen=True)
class RunningCost:
    """An ongoing transaction of a station this node holds, its cost inputs, and the running
    cost last sent to the station."""

    station_id: str
    transaction_id: str
    inputs: CostInputs
    last_cost: Decimal | None
    last_outcome: str | None


@dataclass(frozen=True)
class CostRecord:
    """What the CSMS told a station of a transaction's cost."""

    currency: str
    running_cost: Decimal | None
    running_sent_at: datetime | None
    running_outcome: str | None
    final_cost: Decimal | None
    final_at: datetime | None


_TARIFF = """
    t.currency, t.energy_price, t.discharge_credit, t.credit_program, t.station_id,
    coalesce(t.discharge_credit,
             (p.settings->>'rate_per_kwh')::numeric * (p.settings->>'driver_share')::numeric,
             0) AS credit,
    t.updated_at
"""
_TARIFF_FIELDS = 7

#: The tariff of station s: its own, else the default.
_APPLIES = """
    LEFT JOIN LATERAL (SELECT * FROM tariffs x
                        WHERE x.station_id = s.id OR x.station_id IS NULL
                        ORDER BY x.station_id NULLS LAST LIMIT 1) t ON true
    LEFT JOIN grid_programs p ON p.name = t.credit_program
"""


def _tariff(row: Sequence[object]) -> Tariff:
    return Tariff(*row[:_TARIFF_FIELDS])  # type: ignore[arg-type]


async def set_tariff(db: Db, tariff: Tariff) -> None:
    """Store ``tariff`` in place of the station's (or the default) one. Raises
    StationNotFound for an unknown station and ProgramNotFound for an unknown credit
    program."""
    async with connection(db) as conn, conn.transaction():
        if tariff.station_id is not None and not await conn.fetchval(
                "SELECT true FROM stations WHERE id = $1", tariff.station_id):
            raise StationNotFound(tariff.station_id)
        if tariff.credit_program is not None and not await conn.fetchval(
                "SELECT true FROM grid_programs WHERE name = $1", tariff.credit_program):
            raise ProgramNotFound(tariff.credit_program)
        await conn.execute("DELETE FROM tariffs WHERE station_id IS NOT DISTINCT FROM $1",
                           tariff.station_id)
        await conn.execute(
            "INSERT INTO tariffs (station_id, currency, energy_price, discharge_credit,"
            " credit_program) VALUES ($1, $2, $3, $4, $5)",
            tariff.station_id, tariff.currency, tariff.energy_price, tariff.discharge_credit,
            tariff.credit_program)


async def remove_tariff(db: Db, station_id: str | None) -> bool:
    """Remove a station's tariff (None: the default); False if there was none."""
    status = await db.execute("DELETE FROM tariffs WHERE station_id IS NOT DISTINCT FROM $1",
                              station_id)
    return status != "DELETE 0"


async def list_tariffs(db: Db) -> list[Tariff]:
    """Every tariff: the default first, then by station."""
    rows = await db.fetch(
        f"SELECT {_TARIFF} FROM tariffs t LEFT JOIN grid_programs p ON p.name = t.credit_program"
        " ORDER BY t.station_id NULLS FIRST")
    return [_tariff(r) for r in rows]


async def cost_inputs(db: Db, station_id: str, transaction_id: str) -> CostInputs | None:
    """The tariff that applies to the transaction and its energy so far; None when no tariff
    applies (or there is no such transaction)."""
    row = await db.fetchrow(
        f"""
        SELECT {_TARIFF},
               tx.energy_import_end - tx.energy_import_start AS imported_wh,
               tx.energy_export_end - tx.energy_export_start AS exported_wh
          FROM transactions tx JOIN stations s ON s.id = tx.station_id
          {_APPLIES}
         WHERE tx.station_id = $1 AND tx.transaction_id = $2 AND t.currency IS NOT NULL
        """,
        station_id, transaction_id)
    if row is None:
        return None
    return CostInputs(_tariff(row), row["imported_wh"], row["exported_wh"])


async def record_final_cost(db: Db, station_id: str, transaction_id: str, currency: str,
                            cost: Decimal) -> None:
    """The final cost given to the station in the answer to the transaction's Ended event."""
    await db.execute(
        """
        INSERT INTO transaction_costs (station_id, transaction_id, currency, final_cost, final_at)
        VALUES ($1, $2, $3, $4, now())
        ON CONFLICT (station_id, transaction_id) DO UPDATE
           SET currency = EXCLUDED.currency, final_cost = EXCLUDED.final_cost,
               final_at = EXCLUDED.final_at
        """,
        station_id, transaction_id, currency, cost)


async def running_costs_due(db: Db, node_id: str) -> list[RunningCost]:
    """The ongoing transactions, with an energy register read and a tariff, of the stations
    this node holds, accepted at boot, whose device model does not say tariff and cost
    display is off, and that did not refuse a CostUpdated for the transaction (CALLERROR)."""
    rows = await db.fetch(
        f"""
        SELECT {_TARIFF}, tx.station_id, tx.transaction_id,
               tx.energy_import_end - tx.energy_import_start AS imported_wh,
               tx.energy_export_end - tx.energy_export_start AS exported_wh,
               c.running_cost, c.running_outcome
          FROM stations s
          JOIN nodes n ON n.node_id = s.node_id
          JOIN transactions tx ON tx.station_id = s.id AND tx.ended_at IS NULL
          {_APPLIES}
          LEFT JOIN transaction_costs c ON c.station_id = tx.station_id
                                       AND c.transaction_id = tx.transaction_id
         WHERE s.node_id = $1 AND {node_alive()} AND s.boot_status = 'Accepted'
           AND t.currency IS NOT NULL
           AND (tx.energy_import_end IS NOT NULL OR tx.energy_export_end IS NOT NULL)
           AND c.running_outcome IS DISTINCT FROM 'callerror'
           AND NOT EXISTS (SELECT 1 FROM variable_attributes v
                            WHERE v.station_id = s.id AND v.component_name = 'TariffCostCtrlr'
                              AND v.variable_name IN ('Enabled', 'Available')
                              AND v.attribute_type = 'Actual' AND v.value = 'false')
         ORDER BY tx.station_id, tx.transaction_id
        """,
        node_id)
    return [RunningCost(r["station_id"], r["transaction_id"],
                        CostInputs(_tariff(r), r["imported_wh"], r["exported_wh"]),
                        r["running_cost"], r["running_outcome"]) for r in rows]


async def record_running_costs(db: Db, sent: Sequence[tuple[str, str, str, Decimal, str]]
                               ) -> None:
    """(station, transaction, currency, cost, outcome) of the CostUpdated calls just made."""
    await db.executemany(
        """
        INSERT INTO transaction_costs (station_id, transaction_id, currency, running_cost,
                                       running_sent_at, running_outcome)
        VALUES ($1, $2, $3, $4, now(), $5)
        ON CONFLICT (station_id, transaction_id) DO UPDATE
           SET currency = EXCLUDED.currency, running_cost = EXCLUDED.running_cost,
               running_sent_at = EXCLUDED.running_sent_at,
               running_outcome = EXCLUDED.running_outcome
        """,
        list(sent))


async def cost_record(db: Db, station_id: str, transaction_id: str) -> CostRecord | None:
    """What the CSMS told the station of the transaction's cost; None if nothing yet."""
    row = await db.fetchrow(
        "SELECT currency, running_cost, running_sent_at, running_outcome, final_cost, final_at"
        " FROM transaction_costs WHERE station_id = $1 AND transaction_id = $2",
        station_id, transaction_id)
    return None if row is None else CostRecord(**dict(row))


async def currency_mismatches(db: Db, station_id: str | None, currency: str
                              ) -> list[tuple[str, str]]:
    """(station, currency) of the stations the tariff applies to (``station_id``, or for the
    default every station without a tariff of its own) whose device model shows costs in
    another currency (TariffCostCtrlr.Currency)."""
    rows = await db.fetch(
        """
        SELECT v.station_id, v.value FROM variable_attributes v
         WHERE v.component_name = 'TariffCostCtrlr' AND v.variable_name = 'Currency'
           AND v.attribute_type = 'Actual' AND upper(v.value) <> $2
           AND CASE WHEN $1::text IS NULL
                    THEN NOT EXISTS (SELECT 1 FROM tariffs t WHERE t.station_id = v.station_id)
                    ELSE v.station_id = $1 END
         ORDER BY v.station_id
        """,
        station_id, currency)
    return [(r[0], r[1]) for r in rows]
