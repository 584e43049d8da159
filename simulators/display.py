"""A simulated station's display (O01-O06): the messages the CSMS sets, which of them it shows,
and the answers to SetDisplayMessage, GetDisplayMessages and ClearDisplayMessage.

What the display supports is read from the station's device model (DisplayMessageCtrlr:
SupportedFormats, SupportedPriorities, SupportedStates in 2.1, DisplayMessages' maxLimit), so
a CSMS that reads the device model knows it. A message bound to a transaction is dropped when
the transaction is no longer the ongoing one, a message past its end when the end passes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from simulators.devicemodel import DISPLAY_STATES_201, DeviceModel

if TYPE_CHECKING:
    from simulators.port import StationPort

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]

#: The order messages are shown in: AlwaysFront over InFront over the normal cycle.
PRIORITY_ORDER = {"AlwaysFront": 0, "InFront": 1, "NormalCycle": 2}
#: Messages per NotifyDisplayMessages part (a larger report comes in parts, tbc true).
MESSAGES_PER_PART = 4


def _time(value: str | None) -> float | None:
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def _status(status: str, reason: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"status": status}
    if reason is not None:
        out["statusInfo"] = {"reasonCode": reason}
    return out


class DisplayBoard:
    """The messages a station holds, by id (MessageInfoType as received)."""

    def __init__(self, model: DeviceModel, transaction_id: Callable[[], str | None]) -> None:
        self.model = model
        self.transaction_id = transaction_id
        self.messages: dict[int, dict[str, Any]] = {}

    def _members(self, variable: str) -> set[str]:
        return {m for m in self.model.get("DisplayMessageCtrlr", variable).split(",") if m}

    def _states(self) -> set[str]:
        try:
            return self._members("SupportedStates")
        except KeyError:  # 2.0.1 has no such variable
            return set(DISPLAY_STATES_201)

    def capacity(self) -> int:
        """How many messages the display holds at once (DisplayMessages' maxLimit)."""
        limit = self.model.defs[("DisplayMessageCtrlr", None, None, "DisplayMessages",
                                 None)].max_limit
        return int(limit or 0)

    def purge(self, now: float) -> None:
        """Drop messages past their end and those of a transaction that is not ongoing."""
        ongoing = self.transaction_id()
        for message_id, info in list(self.messages.items()):
            end = _time(info.get("endDateTime"))
            tx = info.get("transactionId")
            if (end is not None and end <= now) or (tx is not None and tx != ongoing):
                del self.messages[message_id]
        self._count()

    def _count(self) -> None:
        self.model.set("DisplayMessageCtrlr", "DisplayMessages", str(len(self.messages)))

    def set(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        """Answer a SetDisplayMessage: keep the message (replacing one of its id, O06) if the
        display can show it."""
        info = payload["message"]
        self.purge(now)
        if self.model.get("DisplayMessageCtrlr", "Enabled") != "true":
            return _status("Rejected", "Disabled")
        if info["priority"] not in self._members("SupportedPriorities"):
            return _status("NotSupportedPriority")
        if info["message"]["format"] not in self._members("SupportedFormats"):
            return _status("NotSupportedMessageFormat")
        if "state" in info and info["state"] not in self._states():
            return _status("NotSupportedState")
        tx = info.get("transactionId")
        if tx is not None and tx != self.transaction_id():
            return _status("UnknownTransaction")  # O02: only during that transaction
        if info["id"] not in self.messages and len(self.messages) >= self.capacity():
            return _status("Rejected", "TooManyMessages")
        self.messages[info["id"]] = info
        self._count()
        return _status("Accepted")

    def matching(self, payload: dict[str, Any], now: float) -> list[dict[str, Any]]:
        """The messages a GetDisplayMessages asks for: every criterion given must match."""
        self.purge(now)
        ids = payload.get("id")
        return [info for message_id, info in sorted(self.messages.items())
                if (ids is None or message_id in ids)
                and payload.get("priority") in (None, info["priority"])
                and payload.get("state") in (None, info.get("state"))]

    def clear(self, message_id: int, now: float) -> bool:
        """Remove a message; False if there is none of that id."""
        self.purge(now)
        found = self.messages.pop(message_id, None) is not None
        self._count()
        return found

    def showing(self, now: float | None = None) -> list[dict[str, Any]]:
        """The messages on screen now, first shown first (priority, then id)."""
        now = time.time() if now is None else now
        self.purge(now)
        started = [i for i in self.messages.values()
                   if (_time(i.get("startDateTime")) or 0.0) <= now]
        return sorted(started, key=lambda i: (PRIORITY_ORDER[i["priority"]], i["id"]))

    def texts(self, now: float | None = None) -> list[str]:
        """What the screen says, first shown first."""
        return [i["message"]["content"] for i in self.showing(now)]


def display_handlers(station: StationPort) -> dict[str, Handler]:
    """The station's answers to SetDisplayMessage, GetDisplayMessages and
    ClearDisplayMessage."""

    async def set_display_message(payload: dict[str, Any]) -> dict[str, Any]:
        return station.display.set(payload, time.time())

    async def get_display_messages(payload: dict[str, Any]) -> dict[str, Any]:
        found = station.display.matching(payload, time.time())
        if not found:
            return _status("Unknown")  # O04: none matches, no report follows
        parts = [found[i:i + MESSAGES_PER_PART] for i in range(0, len(found),
                                                                MESSAGES_PER_PART)]
        station.enqueue([("NotifyDisplayMessages", {
            "requestId": payload["requestId"], "tbc": n < len(parts) - 1, "messageInfo": part})
            for n, part in enumerate(parts)])
        return _status("Accepted")

    async def clear_display_message(payload: dict[str, Any]) -> dict[str, Any]:
        found = station.display.clear(payload["id"], time.time())
        return _status("Accepted" if found else "Unknown")

    return {"SetDisplayMessage": set_display_message,
            "GetDisplayMessages": get_display_messages,
            "ClearDisplayMessage": clear_display_message}
