"""The set of charging profiles installed on a station, with the station's storage rules.

A station simulator keeps its profiles in an :class:`InstalledProfiles`; the CSMS keeps one per
station as its belief of what is installed (from its own SetChargingProfile and
ClearChargingProfile calls and from ReportChargingProfiles). Pure data structure, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from csms.smartcharging.fields import check_version
from csms.smartcharging.limits import StationLimits
from csms.smartcharging.model import ChargingProfile
from csms.smartcharging.rules import RuleViolation, Sender, check_profile

# Sources that the CSMS set (ChargingLimitSourceEnumType "CSO"); others are external actors.
CSMS_SOURCE = "CSO"


@dataclass(frozen=True)
class InstalledProfile:
    """A profile, the EVSE it is installed on, and who set it (chargingLimitSource)."""

    evse_id: int
    profile: ChargingProfile
    source: str = CSMS_SOURCE


def _overlap(a: ChargingProfile, b: ChargingProfile) -> bool:
    """Whether the validity periods [validFrom, validTo) of two profiles overlap."""
    a_from, a_to = a.valid_from, a.valid_to
    b_from, b_to = b.valid_from, b.valid_to
    if a_to is not None and b_from is not None and a_to <= b_from:
        return False
    return not (b_to is not None and a_from is not None and b_to <= a_from)


class InstalledProfiles:
    """Profiles installed on one station, keyed by profile id."""

    def __init__(self, entries: Iterable[InstalledProfile] = ()) -> None:
        self._by_id: dict[int, InstalledProfile] = {}
        for entry in entries:
            self._by_id[entry.profile.id] = entry

    def __iter__(self) -> Iterator[InstalledProfile]:
        return iter(sorted(self._by_id.values(), key=lambda e: (e.evse_id, e.profile.id)))

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, profile_id: int) -> InstalledProfile | None:
        """The installed profile with this id, if any."""
        return self._by_id.get(profile_id)

    def conflicts(self, profile: ChargingProfile, evse_id: int) -> list[RuleViolation]:
        """Storage rules that installing ``profile`` on ``evse_id`` would break."""
        out: list[RuleViolation] = []
        same_id = self._by_id.get(profile.id)
        if (same_id is not None
                and same_id.profile.purpose == "ChargingStationExternalConstraints"
                and profile.purpose != "ChargingStationExternalConstraints"):
            # K01.FR.05: an id held by external constraints cannot be replaced from the CSMS.
            out.append(RuleViolation("K01.FR.05", "id",
                                     f"profile id {profile.id} belongs to external constraints",
                                     "DuplicateProfile"))
        for other in self._by_id.values():
            theirs = other.profile
            if theirs.id == profile.id or theirs.stack_level != profile.stack_level:
                continue
            if profile.purpose == "TxProfile":
                same_tx = theirs.transaction_id == profile.transaction_id
                if theirs.purpose == "TxProfile" and same_tx:
                    # K01.FR.39: one TxProfile per stackLevel and transaction.
                    out.append(RuleViolation(
                        "K01.FR.39", "stackLevel",
                        f"TxProfile {theirs.id} already has stackLevel {profile.stack_level} "
                        f"for transaction {profile.transaction_id}", "InvalidStackLevel"))
                continue
            if theirs.purpose != profile.purpose:
                continue
            if other.evse_id == evse_id and _overlap(theirs, profile):
                # K01.FR.06: no two profiles with the same purpose and stackLevel on one EVSE
                # with overlapping validity.
                out.append(RuleViolation(
                    "K01.FR.06", "stackLevel",
                    f"profile {theirs.id} has the same purpose and stackLevel on EVSE {evse_id} "
                    "with an overlapping validity period", "DuplicateProfile"))
            elif profile.purpose == "TxDefaultProfile" and 0 in (evse_id, other.evse_id):
                # K01.FR.52 / K01.FR.53: a TxDefaultProfile on EVSE 0 and one on a specific EVSE
                # may not share a stackLevel.
                requirement = "K01.FR.52" if evse_id == 0 else "K01.FR.53"
                out.append(RuleViolation(
                    requirement, "stackLevel",
                    f"TxDefaultProfile {theirs.id} on EVSE {other.evse_id} already uses "
                    f"stackLevel {profile.stack_level}", "DuplicateProfile"))
        return out

    def install(
        self,
        profile: ChargingProfile,
        evse_id: int,
        *,
        version: str,
        source: str = CSMS_SOURCE,
        limits: StationLimits | None = None,
        sender: Sender = "csms",
        transactions: Mapping[int, str] | None = None,
    ) -> list[RuleViolation]:
        """Install ``profile`` on ``evse_id`` unless it breaks a rule; return the violations.

        A profile with the id of an installed one replaces it (K01.FR.05). Nothing changes when
        the list returned is not empty.
        """
        if limits is not None:
            others = len(self._by_id) - (1 if profile.id in self._by_id else 0)
            limits = replace(limits, entries=others)
        violations = check_profile(profile, version=version, evse_id=evse_id, limits=limits,
                                   sender=sender, transactions=transactions)
        violations += self.conflicts(profile, evse_id)
        if not violations:
            self._by_id[profile.id] = InstalledProfile(evse_id, profile, source)
        return violations

    def put(self, entry: InstalledProfile) -> None:
        """Record a profile without checks (e.g. what a station reported it holds)."""
        self._by_id[entry.profile.id] = entry

    def clear(
        self,
        *,
        profile_id: int | None = None,
        evse_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
        include_external: bool = False,
    ) -> list[InstalledProfile]:
        """Remove the profiles a ClearChargingProfile request selects; return them.

        With ``profile_id`` only that profile goes; otherwise every profile matching all the
        given criteria (none given: all). External constraints stay unless
        ``include_external`` (the CSMS cannot clear what an external actor set, K10).
        """
        if profile_id is not None:
            selected = self.matching(profile_ids=(profile_id,))
        else:
            selected = self.matching(evse_id=evse_id, purpose=purpose, stack_level=stack_level)
        return self._remove(e for e in selected if include_external
                            or e.profile.purpose != "ChargingStationExternalConstraints")

    def _remove(self, entries: Iterable[InstalledProfile]) -> list[InstalledProfile]:
        removed = list(entries)
        for entry in removed:
            del self._by_id[entry.profile.id]
        return removed

    def clear_request(self, payload: Mapping[str, Any]) -> dict[str, str]:
        """Apply a ClearChargingProfileRequest payload; return the response payload.

        Status Accepted when something was cleared, Unknown otherwise (K10).
        """
        criteria = payload.get("chargingProfileCriteria") or {}
        removed = self.clear(
            profile_id=payload.get("chargingProfileId"),
            evse_id=criteria.get("evseId"),
            purpose=criteria.get("chargingProfilePurpose"),
            stack_level=criteria.get("stackLevel"),
        )
        return {"status": "Accepted" if removed else "Unknown"}

    def end_transaction(self, transaction_id: str) -> list[InstalledProfile]:
        """Remove the TxProfiles of a transaction that ended; return them."""
        return self._remove([e for e in self._by_id.values()
                             if e.profile.purpose == "TxProfile"
                             and e.profile.transaction_id == transaction_id])

    def drop_expired(self, now: datetime) -> list[InstalledProfile]:
        """Remove profiles whose validTo has passed; return them."""
        return self._remove([e for e in self._by_id.values()
                             if e.profile.valid_to is not None and e.profile.valid_to <= now])

    def matching(
        self,
        *,
        evse_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
        profile_ids: Iterable[int] | None = None,
        sources: Iterable[str] | None = None,
    ) -> list[InstalledProfile]:
        """Profiles selected by GetChargingProfiles criteria (all given criteria must match)."""
        ids = None if profile_ids is None else set(profile_ids)
        wanted_sources = None if sources is None else set(sources)
        return [
            e for e in self
            if (evse_id is None or e.evse_id == evse_id)
            and (purpose is None or e.profile.purpose == purpose)
            and (stack_level is None or e.profile.stack_level == stack_level)
            and (ids is None or e.profile.id in ids)
            and (wanted_sources is None or e.source in wanted_sources)
        ]

    def report(self, request: Mapping[str, Any], version: str) -> list[dict[str, Any]]:
        """ReportChargingProfilesRequest payloads answering a GetChargingProfilesRequest.

        One payload per (evseId, chargingLimitSource) group, ``tbc`` true on all but the last.
        An empty list means the station answers GetChargingProfiles with NoProfiles (K09).
        """
        check_version(version)
        criterion = request.get("chargingProfile") or {}
        found = self.matching(
            evse_id=request.get("evseId"),
            purpose=criterion.get("chargingProfilePurpose"),
            stack_level=criterion.get("stackLevel"),
            profile_ids=criterion.get("chargingProfileId"),
            sources=criterion.get("chargingLimitSource"),
        )
        groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
        for entry in found:
            groups.setdefault((entry.evse_id, entry.source), []).append(
                entry.profile.to_wire(version))
        payloads = [
            {"requestId": request["requestId"], "chargingLimitSource": source, "evseId": evse,
             "chargingProfile": profiles, "tbc": True}
            for (evse, source), profiles in sorted(groups.items())
        ]
        if payloads:
            payloads[-1]["tbc"] = False
        return payloads
