"""Firmware updates (L01 secure, L02 plain): a campaign sends UpdateFirmware to many stations,
each with its own requestId, and follows each station from the answer through the
FirmwareStatusNotifications to the BootNotification of the new firmware.

Offline stations are reported (phase ``not-sent``), or, with ``queue_for``, queued: the request
waits in the command table and goes out when the station reconnects; its answer is taken from
there later (:func:`csms.store.firmware.settle_answers`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import asyncpg

from csms.operations.answers import answer_of
from csms.operations.client import DEFAULT_TIMEOUT, Operations
from csms.operations.outcome import Outcome, Status, refused
from csms.operations.request_fields import add_retries, iso_seconds
from csms.store import commands, firmware
from csms.store.firmware import Campaign, StationUpdate, StatusEntry

ACTION = "UpdateFirmware"
#: UpdateFirmware answers that mean the station goes ahead (AcceptedCanceled: and cancels the
#: update it had under way, L01.FR.24).
ACCEPTED = ("Accepted", "AcceptedCanceled")
#: FirmwareStatusNotification statuses that end an update.
FAILED = frozenset({"DownloadFailed", "InvalidSignature", "InstallVerificationFailed",
                    "InstallationFailed"})
#: Answers that mean the request never reached the station, or not in time.
_NOT_SENT = frozenset({"offline", "expired"})
_WAITING = frozenset({"timeout", "disconnected"})


class Phase(StrEnum):
    """Where a station's update stands, for people and scripts."""

    QUEUED = "queued"  #: the station is offline; the request waits for it to reconnect
    SENT = "sent"  #: sent, no answer yet
    NOT_SENT = "not-sent"  #: the station was offline (not queued), or the queue time ran out
    REFUSED = "refused"  #: Rejected, InvalidCertificate, RevokedCertificate or a CALLERROR
    ACCEPTED = "accepted"  #: accepted, no progress reported yet
    IN_PROGRESS = "in-progress"  #: downloading, installing, rebooting, ...
    INSTALLED = "installed"  #: the station reported Installed
    FAILED = "failed"  #: download, signature, verification or installation failed
    CANCELED = "canceled"  #: a later update replaced it on the station (AcceptedCanceled)


def phase_of(update: StationUpdate) -> Phase:
    """The phase of one station's update."""
    if update.canceled_by is not None:
        return Phase.CANCELED
    if update.status == "Installed":
        return Phase.INSTALLED
    if update.status in FAILED:
        return Phase.FAILED
    answer = update.answer
    if update.status is not None and update.status != "Idle":
        return Phase.IN_PROGRESS
    if answer in ACCEPTED:
        return Phase.ACCEPTED
    if answer is None or answer in _WAITING:
        return Phase.SENT
    if answer == "queued":
        return Phase.QUEUED
    if answer in _NOT_SENT:
        return Phase.NOT_SENT
    return Phase.REFUSED


@dataclass(frozen=True)
class FirmwareRequest:
    """The firmware to install and when (FirmwareType, plus the download retries)."""

    location: str
    retrieve_at: datetime
    install_at: datetime | None = None
    signature: str | None = None
    signing_certificate: str | None = None
    retries: int | None = None
    retry_interval: int | None = None

    def payload(self, request_id: int) -> dict[str, Any]:
        """The UpdateFirmwareRequest for one station."""
        fw: dict[str, Any] = {"location": self.location,
                              "retrieveDateTime": iso_seconds(self.retrieve_at)}
        if self.install_at is not None:
            fw["installDateTime"] = iso_seconds(self.install_at)
        if self.signing_certificate is not None:
            fw["signingCertificate"] = self.signing_certificate
        if self.signature is not None:
            fw["signature"] = self.signature
        return add_retries({"requestId": request_id, "firmware": fw}, self.retries,
                           self.retry_interval)


@dataclass(frozen=True)
class SentUpdate:
    """How the UpdateFirmware to one station ended."""

    station_id: str
    request_id: int
    outcome: Outcome


@dataclass(frozen=True)
class CampaignResult:
    """A campaign and how each station answered; ``campaign`` is None when nothing was sent
    because a station is unknown or the request is invalid for it (``stations`` then holds
    those refusals)."""

    campaign: Campaign | None
    stations: list[SentUpdate]

    @property
    def failed(self) -> list[SentUpdate]:
        """The stations that did not accept (queued ones excepted)."""
        return [s for s in self.stations if not s.outcome.ok
                and s.outcome.status is not Status.QUEUED]


async def update_firmware(
    ops: Operations, station_ids: Sequence[str], request: FirmwareRequest, *,
    timeout: float = DEFAULT_TIMEOUT, queue_for: timedelta | None = None,
) -> CampaignResult:
    """Start a campaign: UpdateFirmware to every station (each its own requestId), the
    answers awaited up to ``timeout`` seconds and recorded. Every station is checked first
    (known, request valid for its OCPP version): if any is refused, nothing is sent."""
    pool = ops.pool
    request_ids = await firmware.next_request_ids(pool, len(station_ids))
    checks = await asyncio.gather(*(
        ops.check(s, ACTION, request.payload(r)) for s, r in zip(station_ids, request_ids,
                                                                 strict=True)))
    refusals = [SentUpdate(s, r, c) for s, r, c in zip(station_ids, request_ids, checks,
                                                        strict=True) if isinstance(c, Outcome)]
    if refusals:
        return CampaignResult(None, refusals)
    queue_until = datetime.now(UTC) + queue_for if queue_for is not None else None
    campaign = await firmware.create_campaign(
        pool, request.location, request.retrieve_at, install_at=request.install_at,
        signature=request.signature, signing_certificate=request.signing_certificate,
        retries=request.retries, retry_interval=request.retry_interval,
        queue_until=queue_until)
    sent = await asyncio.gather(*(
        _send(ops, pool, campaign, s, r, request.payload(r), timeout, queue_for)
        for s, r in zip(station_ids, request_ids, strict=True)))
    return CampaignResult(campaign, list(sent))


async def _send(ops: Operations, pool: asyncpg.Pool, campaign: Campaign, station_id: str,
                request_id: int, payload: dict[str, Any], timeout: float,
                queue_for: timedelta | None) -> SentUpdate:
    online = await commands.station_online(pool, station_id)
    if not online and queue_for is None:
        outcome = refused(Status.OFFLINE, f"station {station_id} is not connected", payload)
        await firmware.add_station(pool, campaign.id, station_id, request_id, None,
                                   answer=answer_of(outcome), answer_reason=outcome.reason)
        return SentUpdate(station_id, request_id, outcome)
    # The row exists before the request leaves, so that the first FirmwareStatusNotification
    # finds it.
    await firmware.add_station(pool, campaign.id, station_id, request_id, None)
    ids = await ops.submit(station_id, ACTION, payload, queue_for=queue_for)
    if isinstance(ids, Outcome):  # went offline meanwhile
        await firmware.record_answer(pool, station_id, request_id, answer_of(ids), ids.reason)
        return SentUpdate(station_id, request_id, ids)
    await firmware.set_command(pool, station_id, request_id, ids[0])
    if not online:
        outcome = Outcome(Status.QUEUED, None,
                          f"queued until {iso_seconds(campaign.queue_until or datetime.now(UTC))}",
                          payload, tuple(ids))
    else:
        outcome = await ops.wait(ACTION, payload, ids, timeout=timeout, accept=ACCEPTED)
    await firmware.record_answer(pool, station_id, request_id, answer_of(outcome),
                                 outcome.reason)
    return SentUpdate(station_id, request_id, outcome)


@dataclass(frozen=True)
class UpdateView:
    """One station's update as shown: the record, its phase and (asked for) its history."""

    update: StationUpdate
    phase: Phase
    history: list[StatusEntry] = field(default_factory=list)


async def update_status(pool: asyncpg.Pool, *, campaign_id: int | None = None,
                        station_id: str | None = None,
                        history: bool = False) -> list[UpdateView]:
    """Each station's update: of a campaign, or each station's latest (of one station: all
    of its updates); answers that arrived meanwhile are settled first."""
    await firmware.settle_answers(pool)
    updates = await firmware.station_updates(pool, campaign_id=campaign_id,
                                             station_id=station_id,
                                             latest_only=station_id is None)
    views = []
    for update in updates:
        entries = (await firmware.status_history(pool, update.station_id, update.request_id)
                   if history else [])
        views.append(UpdateView(update, phase_of(update), entries))
    return views


@dataclass(frozen=True)
class CampaignSummary:
    """A campaign with how many of its stations are in each phase."""

    campaign: Campaign
    stations: int
    phases: dict[str, int]


async def campaign_summaries(pool: asyncpg.Pool, limit: int = 100) -> list[CampaignSummary]:
    """The most recent campaigns, newest first, with their stations counted by phase."""
    await firmware.settle_answers(pool)
    out = []
    for campaign in await firmware.list_campaigns(pool, limit):
        updates = await firmware.station_updates(pool, campaign_id=campaign.id)
        counts = Counter(phase_of(u).value for u in updates)
        out.append(CampaignSummary(campaign, len(updates),
                                   {p.value: counts[p.value] for p in Phase if counts[p.value]}))
    return out
