"""A station's live connection on a node: its handlers and the boot gate in front of them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection

from csms.blocks.station_context import BlockHandler
from csms.ocppj import Handler, OCPPError, RpcConnection

#: TriggerMessage's requestedMessage values and the action each makes the station send.
TRIGGERED_ACTIONS = {
    "SignChargingStationCertificate": "SignCertificate",
    "SignV2GCertificate": "SignCertificate",
    "SignCombinedCertificate": "SignCertificate",
    "SignV2G20Certificate": "SignCertificate",
}


@dataclass
class BootGate:
    """What a station may send while its boot is not Accepted (B02.FR.09, B03.FR.07).

    After a Pending or Rejected BootNotification answer, every CALL but BootNotification gets
    a SecurityError (TC_B_30_CSMS), except, while Pending, the messages the CSMS asked for:
    NotifyReport (GetBaseReport / GetReport) and what a TriggerMessage requested (TC_B_31).
    A station that never booted, or whose last boot was Accepted, is not restricted.
    """

    status: str | None = None
    triggered: set[str] = field(default_factory=set)

    def check(self, action: str) -> None:
        """Raise SecurityError if ``action`` is not allowed now."""
        if action == "BootNotification" or self.status not in ("Pending", "Rejected"):
            return
        if self.status == "Pending" and (action == "NotifyReport" or action in self.triggered):
            return
        raise OCPPError("SecurityError",
                        f"{action} is not allowed while the boot status is {self.status}")

    def triggered_by(self, requested_message: str) -> None:
        """Allow the message a TriggerMessage the station accepted asked for."""
        self.triggered.add(TRIGGERED_ACTIONS.get(requested_message, requested_message))

    def guard(self, action: str, handler: Handler) -> Handler:
        """``handler`` behind this gate; a BootNotification answer updates the gate."""
        if action == "BootNotification":
            async def boot(payload: dict[str, Any]) -> dict[str, Any] | None:
                response = await handler(payload)
                if response is not None:
                    self.status = response.get("status")
                    self.triggered.clear()
                return response
            return boot

        async def gated(payload: dict[str, Any]) -> dict[str, Any] | None:
            self.check(action)
            return await handler(payload)
        return gated


class SessionHandlers(Mapping[str, Handler]):
    """A station's handlers, each bound to the station's context when a message arrives.

    A connection holds this one small object instead of a closure chain per action (about
    25 KB per station less with 60 actions).
    """

    __slots__ = ("_bind", "_table")

    def __init__(self, table: Mapping[str, BlockHandler],
                 bind: Callable[[str, BlockHandler], Handler]):
        self._table = table
        self._bind = bind

    def __getitem__(self, action: str) -> Handler:
        return self._bind(action, self._table[action])

    def __contains__(self, action: object) -> bool:
        return action in self._table

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


@dataclass(eq=False)
class StationSession:
    """A station's live connection on this node."""

    station_id: str
    version: str
    websocket: ServerConnection
    rpc: RpcConnection | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    gate: BootGate = field(default_factory=BootGate)
