"""Display messages sent to stations (O01-O06). A driver's event earnings on their charger's
display are the grid's (:mod:`csms.grid.earnings_display`).

What a station answers is recorded by the node that sent the call
(:func:`csms.blocks.display.record_answer`), so the CSMS's record stays right whoever asked;
these functions return the outcome for the caller to report.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

import asyncpg

from csms.blocks.display import from_message_info, message_info
from csms.ocppj import VERSIONS
from csms.operations.client import DEFAULT_TIMEOUT, Operations
from csms.operations.outcome import Outcome, Status, refused
from csms.store import display
from csms.store.display import DisplayMessage

#: How often the report parts of a GetDisplayMessages are looked for.
POLL_S = 0.1


PRIORITIES = ("AlwaysFront", "InFront", "NormalCycle")
#: MessageFormatEnumType, MessageStateEnumType and the longest content, by OCPP version.
FORMATS = {"2.0.1": ("ASCII", "HTML", "URI", "UTF8"),
           "2.1": ("ASCII", "HTML", "URI", "UTF8", "QRCODE")}
STATES = {"2.0.1": ("Charging", "Faulted", "Idle", "Unavailable"),
          "2.1": ("Charging", "Faulted", "Idle", "Unavailable", "Suspended", "Discharging")}
CONTENT_MAX = {"2.0.1": 512, "2.1": 1024}
LANGUAGE_MAX = 8
#: An RFC 5646 language tag: letters, then subtags of letters and digits.
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")


@dataclass(frozen=True)
class MessageProblem:
    """Why a message cannot go to a station: the field at fault (content, priority, format,
    state, language, transaction_id) and what is wrong with it."""

    field: str
    text: str


@dataclass(frozen=True)
class SetResult:
    """A SetDisplayMessage: the message as sent (with its id) and the outcome (the station's
    status: Accepted, NotSupportedMessageFormat, NotSupportedPriority, NotSupportedState,
    UnknownTransaction, Rejected). ``problem``: the field that kept it from being sent."""

    message: DisplayMessage
    outcome: Outcome
    problem: MessageProblem | None = None


def message_problem(version: str, message: DisplayMessage) -> MessageProblem | None:
    """What in ``message`` an OCPP ``version`` station cannot be sent, or None."""
    formats, states, longest = FORMATS[version], STATES[version], CONTENT_MAX[version]
    if not message.content:
        return MessageProblem("content", "must not be empty")
    if len(message.content) > longest:
        return MessageProblem("content", f"at most {longest} characters in OCPP {version}")
    if message.priority not in PRIORITIES:
        return MessageProblem("priority", f"{message.priority} is not one of "
                              + ", ".join(PRIORITIES))
    if message.format not in formats:
        return MessageProblem("format", f"{message.format} is not one of {', '.join(formats)}"
                              f" in OCPP {version}")
    if message.state is not None and message.state not in states:
        return MessageProblem("state", f"{message.state} is not one of {', '.join(states)}"
                              f" in OCPP {version}")
    if message.language is not None and not (len(message.language) <= LANGUAGE_MAX
                                             and _LANGUAGE.fullmatch(message.language)):
        return MessageProblem("language", f"a language tag of 1 to {LANGUAGE_MAX} characters "
                              "(RFC 5646, e.g. en, nl-BE)")
    if message.transaction_id is not None and not 1 <= len(message.transaction_id) <= 36:
        return MessageProblem("transaction_id", "must be 1 to 36 characters")
    if message.start and message.end and message.end <= message.start:
        return MessageProblem("end", "must be later than the start")
    return None


@dataclass(frozen=True)
class DisplayReport:
    """A GetDisplayMessages: its outcome (Accepted, or Unknown when no message matches), the
    messages the station listed, whether every part arrived within the time allowed, and how
    many messages the CSMS had recorded as on the station that it no longer has."""

    outcome: Outcome
    messages: list[DisplayMessage]
    complete: bool
    gone: int = 0


async def set_message(ops: Operations, pool: asyncpg.Pool, station_id: str,
                      message: DisplayMessage, *, timeout: float = DEFAULT_TIMEOUT,
                      queue_for: timedelta | None = None) -> SetResult:
    """Show ``message`` on the station (O01; with a transaction id, O02; an id in use
    replaces that message, O06). Without an id it gets the next free one."""
    known, version = await ops.station_version(station_id)
    # a station that never connected may speak either version: the message must suit both
    for candidate in ((version,) if version else VERSIONS) if known else ():
        problem = message_problem(candidate, message)
        if problem is not None:
            return SetResult(message, refused(Status.INVALID, f"{problem.field}: {problem.text}"),
                             problem)
    if message.id is None:
        message = replace(message, id=await display.next_message_id(pool, station_id))
    outcome = await ops.call(station_id, "SetDisplayMessage",
                             {"message": message_info(message)}, timeout=timeout,
                             queue_for=queue_for)
    return SetResult(message, outcome)


async def get_messages(ops: Operations, pool: asyncpg.Pool, station_id: str, *,
                       ids: Sequence[int] | None = None, priority: str | None = None,
                       state: str | None = None,
                       timeout: float = DEFAULT_TIMEOUT) -> DisplayReport:
    """Ask the station for its messages (all: O03; by id, priority or state: O04) and collect
    the NotifyDisplayMessages parts it sends, within ``timeout`` seconds in all.

    Once the report is complete, the messages the CSMS recorded as on the station that match
    the criteria but were not listed are marked gone.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    request_id = secrets.randbelow(2**31 - 2) + 1
    payload: dict[str, object] = {"requestId": request_id}
    if ids:
        payload["id"] = list(ids)
    if priority is not None:
        payload["priority"] = priority
    if state is not None:
        payload["state"] = state
    outcome = await ops.call(station_id, "GetDisplayMessages", payload, timeout=timeout,
                             accept=("Accepted", "Unknown"))
    if not outcome.ok:
        return DisplayReport(outcome, [], False)
    messages: list[DisplayMessage] = []
    complete = outcome.station_status == "Unknown"  # nothing matches: no report follows
    while not complete:
        parts = await display.report_parts(pool, station_id, request_id)
        messages = [from_message_info(i) for i in parts.message_info]
        complete = parts.complete
        if complete or loop.time() >= deadline:
            break
        await asyncio.sleep(POLL_S)
    gone = 0
    if complete:
        gone = await display.mark_gone(pool, station_id, ids=ids or None, priority=priority,
                                       state=state,
                                       reported=[m.id for m in messages if m.id is not None])
    return DisplayReport(outcome, messages, complete, gone)


async def clear_message(ops: Operations, station_id: str, message_id: int, *,
                        timeout: float = DEFAULT_TIMEOUT) -> Outcome:
    """Remove a message from the station (O05); the station answers Unknown when it has no
    message of that id."""
    return await ops.call(station_id, "ClearDisplayMessage", {"id": message_id},
                          timeout=timeout)


async def submit_message(ops: Operations, station_id: str,
                         message: DisplayMessage) -> Outcome | None:
    """Send a SetDisplayMessage without waiting for the answer (the station's node records
    it); the refusal if it cannot be sent."""
    payload = {"message": message_info(message)}
    checked = await ops.check(station_id, "SetDisplayMessage", payload)
    if isinstance(checked, Outcome):
        return checked
    submitted = await ops.submit(station_id, "SetDisplayMessage", payload)
    return submitted if isinstance(submitted, Outcome) else None
