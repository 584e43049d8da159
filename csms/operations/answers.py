"""How a call's outcome is recorded in the request tables of the firmware and diagnostics
blocks (see :mod:`csms.store.answers` for the same from a finished command)."""

from __future__ import annotations

from csms.operations.outcome import Outcome


def answer_of(outcome: Outcome) -> str:
    """The station's status word when it answered, else what stopped the call (offline,
    queued, timeout, callerror, ...)."""
    if outcome.answered and outcome.station_status:
        return outcome.station_status
    return outcome.status.value
