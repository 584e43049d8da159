"""A station's live connection on a node: its handlers and the boot gate in front of them."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterator, Mapping
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

    def answered(self, action: str, response: dict[str, Any] | None) -> None:
        """Note the answer to ``action``: a BootNotification's status becomes the gate's."""
        if action == "BootNotification" and response is not None:
            self.status = response.get("status")
            self.triggered.clear()


#: Handles one call: ``(action, block handler, payload)`` to the answer's payload.
Serve = Callable[[str, BlockHandler, dict[str, Any]], Awaitable[dict[str, Any] | None]]


class SessionHandlers(Mapping[str, Handler]):
    """A station's handlers: a message's handler is ``serve`` with its action and block
    handler, made when the message arrives.

    A connection holds this one small object instead of a closure chain per action (about
    25 KB per station less with 60 actions), and a message costs one partial and one
    coroutine of ``serve`` around the block handler's own.
    """

    __slots__ = ("_serve", "_table")

    def __init__(self, table: Mapping[str, BlockHandler], serve: Serve):
        self._table = table
        self._serve = serve

    def __getitem__(self, action: str) -> Handler:
        return functools.partial(self._serve, action, self._table[action])

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
