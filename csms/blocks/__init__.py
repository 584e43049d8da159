"""Handlers of station -> CSMS messages, one module per OCPP functional block.

``handlers_for(version)`` returns the action -> handler map the server binds to each connection.
Every handler awaits its database writes before it returns, so what a station reports is durable
before the station receives the response.
"""

from __future__ import annotations

import functools
from typing import Any

import asyncpg

from csms.blocks import (
    authorization,
    availability,
    certificates,
    datatransfer,
    diagnostics,
    display,
    ev_charging,
    firmware,
    metering,
    notifications,
    payments,
    provisioning,
    reservations,
    security,
    transactions,
)
from csms.blocks.station_context import BlockConfig, BlockHandler, StationContext
from csms.ocppj import VERSIONS, OCPPError

_COMMON = (
    provisioning,
    authorization,
    availability,
    transactions,
    metering,
    diagnostics,
    firmware,
    security,
    certificates,
    ev_charging,
    datatransfer,
    notifications,
    display,
    reservations,
)
_V21_ONLY = (diagnostics, certificates, ev_charging, notifications, payments)



def handlers_for(version: str) -> dict[str, BlockHandler]:
    """Every station -> CSMS action of ``version`` ("2.0.1" or "2.1") with its handler.

    Raises ValueError for another version.
    """
    if version not in VERSIONS:
        raise ValueError(f"unknown OCPP version {version!r}; expected one of {VERSIONS}")
    handlers: dict[str, BlockHandler] = {}
    for module in _COMMON:
        handlers.update(module.HANDLERS)
    if version == "2.1":
        for module in _V21_ONLY:
            handlers.update(module.HANDLERS_V21)
    return {action: _storable(handler) for action, handler in handlers.items()}


def _storable(handler: BlockHandler) -> BlockHandler:
    """``handler``, answering a value the schema allows but the database cannot hold (an EVSE
    id beyond 2^31, a year beyond 294276) with a PropertyConstraintViolation, not an
    InternalError: the payload, not the CSMS, is at fault (found by the fuzz test of
    tests/ocppj)."""
    @functools.wraps(handler)
    async def storable(context: StationContext, payload: dict[str, Any]) -> Any:
        try:
            return await handler(context, payload)
        except (asyncpg.DataError, OverflowError) as exc:  # out of range, server or client side
            raise OCPPError("PropertyConstraintViolation",
                            f"a value cannot be stored: {exc}") from None
    return storable


__all__ = ["VERSIONS", "BlockConfig", "BlockHandler", "StationContext", "handlers_for"]
