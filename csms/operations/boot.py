"""Changing a station's boot status (B02, TC_B_31_CSMS).

The new status is stored and applies at the station's next BootNotification. A connected
station waiting in Pending or Rejected is asked to boot again at once (TriggerMessage
BootNotification, F06) instead of after the retry interval it was given; a station whose last
boot was Accepted would refuse that trigger (F06.FR.17), so it gets the new status when it
next boots.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import asyncpg

from csms.operations.client import Operations
from csms.operations.outcome import Outcome
from csms.store import boot
from csms.store.boot import BootState


class Effect(StrEnum):
    """When a new boot status reaches the station."""

    NOW = "now"  #: the station accepted a TriggerMessage and boots again now
    NEXT_BOOT = "next-boot"  #: at its next BootNotification
    UNCHANGED = "unchanged"  #: its last BootNotification got this status already


@dataclass(frozen=True)
class BootChange:
    """The stored change, when it takes effect, and the trigger's outcome if one was sent."""

    state: BootState
    effect: Effect
    trigger: Outcome | None = None


async def set_boot_status(ops: Operations, pool: asyncpg.Pool, station_id: str, status: str,
                          *, trigger: bool = True, timeout: float = 10.0) -> BootChange:
    """Store ``status`` for the station's next BootNotification and, with ``trigger``, make a
    connected station in Pending or Rejected boot again now.

    Raises StationNotFound for an unknown station and ValueError for an unknown status.
    """
    state = await boot.set_registration_status(pool, station_id, status)
    if state.boot_status == status and state.connected:
        return BootChange(state, Effect.UNCHANGED)
    if not (trigger and state.connected and state.boot_status in ("Pending", "Rejected")):
        return BootChange(state, Effect.NEXT_BOOT)
    outcome = await ops.call(station_id, "TriggerMessage",
                             {"requestedMessage": "BootNotification"}, timeout=timeout)
    return BootChange(state, Effect.NOW if outcome.ok else Effect.NEXT_BOOT, outcome)
