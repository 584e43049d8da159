"""The typed outcome of everything the CSMS sends a station."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """How a call to a station ended."""

    ACCEPTED = "accepted"  #: answered; a status field, if any, is one of the accepted ones
    REJECTED = "rejected"  #: answered with another status (Rejected, NotSupported, ...)
    CALLERROR = "callerror"  #: answered with a CALLERROR
    TIMEOUT = "timeout"  #: sent, no answer in time (a late answer is still recorded)
    OFFLINE = "offline"  #: not sent: no node holds the station's socket
    DISCONNECTED = "disconnected"  #: sent, and the station dropped its socket before answering
    QUEUED = "queued"  #: the station is offline; the call waits for it to reconnect
    EXPIRED = "expired"  #: queued, and the station did not reconnect in time
    INVALID = "invalid"  #: not sent: the request breaks a rule (schema, K01, direction)
    UNKNOWN_STATION = "unknown-station"  #: not sent: no such station is registered


#: Statuses after which the station may have carried the request out.
SENT = frozenset({Status.ACCEPTED, Status.REJECTED, Status.CALLERROR, Status.TIMEOUT,
                  Status.DISCONNECTED})


@dataclass(frozen=True)
class Outcome:
    """A call's outcome: its status, the station's response (merged over the parts of a
    request split by the station's ItemsPerMessage / BytesPerMessage limits), a reason for
    people (the station's statusInfo, the CALLERROR, the rule broken), the request as sent
    (the whole, before splitting) and the ids of its command rows."""

    status: Status
    response: dict[str, Any] | None = None
    reason: str | None = None
    request: dict[str, Any] | None = None
    command_ids: tuple[int, ...] = ()
    #: the station's own status word (Accepted, Rejected, NotSupported, ...), when it has one
    station_status: str | None = None
    #: the CALLERROR's code, when the station answered with one
    error_code: str | None = None
    #: the request field an INVALID outcome is about (dotted, e.g. ``idToken.idToken``), when
    #: the rule broken is one field's
    field: str | None = None

    @property
    def ok(self) -> bool:
        """True when the station answered and accepted."""
        return self.status is Status.ACCEPTED

    @property
    def answered(self) -> bool:
        """True when the station answered with a response (accepted or not)."""
        return self.status in (Status.ACCEPTED, Status.REJECTED)

    def describe(self) -> str:
        """One line for people: the status and why."""
        word = self.station_status or self.status.value
        return f"{word}: {self.reason}" if self.reason else word


def refused(status: Status, reason: str, request: dict[str, Any] | None = None,
            field: str | None = None) -> Outcome:
    """An outcome for a request that was not sent (``field``: the request field at fault)."""
    return Outcome(status, None, reason, request, field=field)
