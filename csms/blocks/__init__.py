"""Handlers of station -> CSMS messages, one module per OCPP functional block.

``handlers_for(version)`` returns the action -> handler map the server binds to each connection.
Every handler awaits its database writes before it returns, so what a station reports is durable
before the station receives the response.
"""

from __future__ import annotations

from csms.blocks import (
    authorization,
    availability,
    datatransfer,
    diagnostics,
    firmware,
    metering,
    notifications,
    payments,
    provisioning,
    security,
    smartcharging,
    transactions,
)
from csms.blocks.context import BlockConfig, BlockHandler, StationContext

_COMMON = (
    provisioning,
    authorization,
    availability,
    transactions,
    metering,
    diagnostics,
    firmware,
    security,
    smartcharging,
    datatransfer,
    notifications,
)
_V21_ONLY = (diagnostics, security, smartcharging, notifications, payments)

VERSIONS = ("2.0.1", "2.1")


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
    return handlers


__all__ = ["VERSIONS", "BlockConfig", "BlockHandler", "StationContext", "handlers_for"]
