"""The device model of each station (components, variables, attributes) and report parts.

Reports arrive in parts (requestId, seqNo, tbc). Each part is recorded in ``report_parts`` so a
repeated part is a no-op and a reader can tell when a report is complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.store.db import Db, connection


@dataclass
class VariableAttribute:
    """One attribute of one variable of one component. None: no instance / EVSE / connector."""

    component_name: str
    variable_name: str
    component_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    variable_instance: str | None = None
    attribute_type: str = "Actual"
    value: str | None = None
    mutability: str | None = None
    persistent: bool | None = None
    constant: bool | None = None
    characteristics: dict[str, Any] | None = None
    updated_at: datetime | None = None


async def record_report_part(
    db: Db,
    station_id: str,
    kind: str,
    request_id: int,
    seq_no: int,
    tbc: bool,
    generated_at: datetime | None,
) -> bool:
    """Record that part ``seq_no`` of report ``request_id`` arrived; False if it had before."""
    inserted = await db.fetchval(
        """
        INSERT INTO report_parts (station_id, kind, request_id, seq_no, tbc, generated_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT DO NOTHING RETURNING true
        """,
        station_id,
        kind,
        request_id,
        seq_no,
        tbc,
        generated_at,
    )
    return bool(inserted)


_UPSERT = """
INSERT INTO variable_attributes (station_id, component_name, component_instance, evse_id,
    connector_id, variable_name, variable_instance, attribute_type, value, mutability, persistent,
    constant, characteristics)
SELECT $1, * FROM unnest($2::text[], $3::text[], $4::integer[], $5::integer[], $6::text[],
    $7::text[], $8::text[], $9::text[], $10::text[], $11::boolean[], $12::boolean[], $13::jsonb[])
ON CONFLICT (station_id, component_name, component_instance, evse_id, connector_id,
             variable_name, variable_instance, attribute_type) DO UPDATE
   SET value = EXCLUDED.value,
       mutability = coalesce(EXCLUDED.mutability, variable_attributes.mutability),
       persistent = coalesce(EXCLUDED.persistent, variable_attributes.persistent),
       constant = coalesce(EXCLUDED.constant, variable_attributes.constant),
       characteristics = coalesce(EXCLUDED.characteristics, variable_attributes.characteristics),
       updated_at = now()
"""


async def upsert_variable_attributes(
    db: Db, station_id: str, attributes: Sequence[VariableAttribute]
) -> None:
    """Store attributes, replacing the value of the same (component, variable, type).

    Mutability, persistence and characteristics that an attribute leaves out are kept.
    """
    if not attributes:
        return
    await db.execute(
        _UPSERT,
        station_id,
        [a.component_name for a in attributes],
        [a.component_instance or "" for a in attributes],
        [a.evse_id or 0 for a in attributes],
        [a.connector_id or 0 for a in attributes],
        [a.variable_name for a in attributes],
        [a.variable_instance or "" for a in attributes],
        [a.attribute_type for a in attributes],
        [a.value for a in attributes],
        [a.mutability for a in attributes],
        [a.persistent for a in attributes],
        [a.constant for a in attributes],
        [a.characteristics for a in attributes],
    )


async def store_report(
    db: Db,
    station_id: str,
    request_id: int,
    seq_no: int,
    tbc: bool,
    generated_at: datetime,
    attributes: Sequence[VariableAttribute],
) -> bool:
    """Store one NotifyReport part and its attributes atomically; False if it was a repeat."""
    async with connection(db) as conn, conn.transaction():
        if not await record_report_part(
            conn, station_id, "NotifyReport", request_id, seq_no, tbc, generated_at
        ):
            return False
        await upsert_variable_attributes(conn, station_id, attributes)
    return True


async def get_variables(
    db: Db,
    station_id: str,
    *,
    component_name: str | None = None,
    variable_name: str | None = None,
) -> list[VariableAttribute]:
    """A station's stored attributes, optionally for one component and/or variable."""
    rows = await db.fetch(
        """
        SELECT component_name, variable_name, nullif(component_instance, '') AS component_instance,
               nullif(evse_id, 0) AS evse_id, nullif(connector_id, 0) AS connector_id,
               nullif(variable_instance, '') AS variable_instance, attribute_type, value,
               mutability, persistent, constant, characteristics, updated_at
          FROM variable_attributes
         WHERE station_id = $1 AND ($2::text IS NULL OR component_name = $2)
           AND ($3::text IS NULL OR variable_name = $3)
         ORDER BY component_name, component_instance, evse_id, connector_id, variable_name,
                  variable_instance, attribute_type
        """,
        station_id,
        component_name,
        variable_name,
    )
    return [VariableAttribute(**dict(r)) for r in rows]
