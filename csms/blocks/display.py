"""Functional block O, display messages: NotifyDisplayMessages, and what a station's answers
to SetDisplayMessage and ClearDisplayMessage tell the CSMS.

The CSMS -> station flows (set, get, clear; a driver's event earnings) are in
:mod:`csms.operations.display`.
"""

from __future__ import annotations

from typing import Any

from csms.blocks.payload import iso, optional_time
from csms.blocks.station_context import StationContext
from csms.store import display
from csms.store.db import Db
from csms.store.display import DisplayMessage


def message_info(message: DisplayMessage) -> dict[str, Any]:
    """``message`` as a MessageInfoType (its id must be set)."""
    assert message.id is not None
    content: dict[str, Any] = {"format": message.format, "content": message.content}
    if message.language is not None:
        content["language"] = message.language
    info: dict[str, Any] = {"id": message.id, "priority": message.priority, "message": content}
    optional = {"state": message.state, "transactionId": message.transaction_id,
                "display": message.display,
                "startDateTime": None if message.start is None else iso(message.start),
                "endDateTime": None if message.end is None else iso(message.end)}
    info.update({k: v for k, v in optional.items() if v is not None})
    return info


def from_message_info(info: dict[str, Any]) -> DisplayMessage:
    """A MessageInfoType (as a station sends or receives it) as a message."""
    content = info["message"]
    return DisplayMessage(
        id=info["id"], priority=info["priority"], content=content["content"],
        format=content["format"], language=content.get("language"), state=info.get("state"),
        start=optional_time(info.get("startDateTime"), "startDateTime"),
        end=optional_time(info.get("endDateTime"), "endDateTime"),
        transaction_id=info.get("transactionId"), display=info.get("display"))


async def notify_display_messages(ctx: StationContext, payload: dict[str, Any]
                                  ) -> dict[str, Any]:
    """Keep one part of a station's answer to GetDisplayMessages (O03, O04) and the messages
    it lists."""
    infos = payload.get("messageInfo", [])
    messages = [from_message_info(i) for i in infos]
    part = await display.record_report_part(ctx.pool, ctx.station_id, payload["requestId"],
                                            payload.get("tbc", False), infos, messages)
    ctx.log.info("notify_display_messages", request_id=payload["requestId"], part=part,
                 messages=len(messages), tbc=payload.get("tbc", False))
    return {}


async def record_answer(db: Db, station_id: str, action: str, request: dict[str, Any],
                        response: dict[str, Any]) -> None:
    """What the station's answer to a SetDisplayMessage or ClearDisplayMessage changes on its
    display: an accepted message replaces any of its id (O01, O02, O06); a cleared one is gone
    (O05). A refused message changes nothing: the station keeps what it had."""
    status = response.get("status")
    if action == "SetDisplayMessage" and status == "Accepted":
        await display.record_set(db, station_id, from_message_info(request["message"]))
    elif action == "ClearDisplayMessage" and status in ("Accepted", "Unknown"):
        await display.record_cleared(db, station_id, request["id"],
                                     had_it=status == "Accepted")


HANDLERS = {"NotifyDisplayMessages": notify_display_messages}
