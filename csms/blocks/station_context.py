"""What a handler knows about the station it serves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog

from csms.operations import Operations

#: How the CSMS answers a BootNotification: accept, keep pending, or reject every station.
BOOT_POLICIES = ("accept", "pending", "reject")


@dataclass
class BlockConfig:
    """Settings of the handlers, shared by every connection of a node."""

    heartbeat_interval: int = 300
    boot_policy: str = "accept"
    # Seconds a station waits before its next BootNotification after Pending or Rejected.
    boot_retry_interval: int = 60

    def __post_init__(self) -> None:
        if self.boot_policy not in BOOT_POLICIES:
            raise ValueError(
                f"boot_policy must be one of {', '.join(BOOT_POLICIES)}, not {self.boot_policy!r}"
            )
        if self.heartbeat_interval <= 0 or self.boot_retry_interval <= 0:
            raise ValueError("heartbeat_interval and boot_retry_interval must be positive")


@dataclass
class StationContext:
    """One connected station: identity, OCPP version, database, settings, bound logger."""

    station_id: str
    version: str
    pool: asyncpg.Pool
    config: BlockConfig
    log: Any = field(default_factory=lambda: structlog.get_logger("csms.blocks"))
    node_id: str = ""
    #: what the node sends stations (a handler's follow-up calls go through it)
    operations: Operations | None = None


BlockHandler = Callable[[StationContext, dict[str, Any]], Awaitable[dict[str, Any]]]
