"""A station's Local Authorization List (D01, D02) and its use when the CSMS cannot be asked
(C13).

SendLocalList installs or changes the list and GetLocalListVersion reports its version. The
limits are the station's LocalAuthListCtrlr variables (ItemsPerMessage, BytesPerMessage, the
maxLimit of Entries) and Entries follows the list's size.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csms.ocppj import OCPPError
from simulators.devicemodel import DeviceModel

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
COMPONENT = "LocalAuthListCtrlr"


def token_key(id_token: dict[str, Any]) -> tuple[str, str]:
    """An idToken as the list tells tokens apart: the value in any case, and the type."""
    return str(id_token["idToken"]).lower(), str(id_token["type"])


@dataclass
class LocalList:
    """The list: idTokenInfo by token, and the version the CSMS gave it (0: none installed)."""

    version: int = 0
    entries: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def update(self, request: dict[str, Any], max_entries: int | None
               ) -> tuple[str, str | None]:
        """Apply a SendLocalListRequest; (status, reason code) for the response.

        Nothing changes unless the status is Accepted.
        """
        version = request["versionNumber"]
        items = request.get("localAuthorizationList", [])
        keys = [token_key(item["idToken"]) for item in items]
        if version <= 0:
            return "Failed", "InvalidVersion"  # D01.FR.18
        if len(set(keys)) != len(keys):
            return "Failed", "DuplicateIdToken"  # D01.FR.06
        if request["updateType"] == "Full":
            if any("idTokenInfo" not in item for item in items):
                return "Failed", "MissingIdTokenInfo"
            entries = {k: item["idTokenInfo"] for k, item in zip(keys, items, strict=True)}
        else:
            if version <= self.version:
                return "VersionMismatch", None  # D01.FR.19
            entries = dict(self.entries)
            for k, item in zip(keys, items, strict=True):
                if "idTokenInfo" in item:
                    entries[k] = item["idTokenInfo"]
                else:
                    entries.pop(k, None)  # D01.FR.17
        if max_entries is not None and len(entries) > max_entries:
            return "Failed", "ListFull"
        self.entries, self.version = entries, version
        return "Accepted", None

    def lookup(self, id_token: dict[str, Any], now: float) -> dict[str, Any] | None:
        """The token's idTokenInfo, None when it is not on the list; an Accepted one past its
        cacheExpiryDateTime reads Expired."""
        info = self.entries.get(token_key(id_token))
        expiry = info.get("cacheExpiryDateTime") if info else None
        if info and expiry and info["status"] == "Accepted" and (
                datetime.fromisoformat(expiry).timestamp() <= now):
            return {**info, "status": "Expired"}
        return info


def offline_token_info(model: DeviceModel, local_list: LocalList, id_token: dict[str, Any],
                       now: float) -> dict[str, Any]:
    """What the station decides about a token when the CSMS cannot be asked (C13): nothing
    without AuthCtrlr.LocalAuthorizeOffline; else the list's entry when the list is enabled
    and holds the token; else the token is let in."""
    if model.get("AuthCtrlr", "LocalAuthorizeOffline") != "true":
        return {"status": "Invalid"}
    if model.get(COMPONENT, "Enabled") == "true":
        info = local_list.lookup(id_token, now)
        if info is not None:
            return info
    return {"status": "Accepted"}


def handlers(model: DeviceModel, local_list: LocalList) -> dict[str, Handler]:
    """SendLocalList and GetLocalListVersion of ``local_list``, within the limits of ``model``."""

    async def send_local_list(payload: dict[str, Any]) -> dict[str, Any]:
        items = len(payload.get("localAuthorizationList", []))
        per_message = int(model.get(COMPONENT, "ItemsPerMessage"))
        if items > per_message:
            raise OCPPError("OccurrenceConstraintViolation",
                            f"{items} entries; {COMPONENT}.ItemsPerMessage is {per_message}")
        size = len(json.dumps(payload, separators=(",", ":")))
        max_bytes = int(model.get(COMPONENT, "BytesPerMessage"))
        if size > max_bytes:
            raise OCPPError("FormatViolation",
                            f"{size} bytes; {COMPONENT}.BytesPerMessage is {max_bytes}")
        limit = model.defs[(COMPONENT, None, None, "Entries", None)].max_limit
        status, reason = local_list.update(payload, None if limit is None else int(limit))
        model.set(COMPONENT, "Entries", str(len(local_list.entries)))
        response: dict[str, Any] = {"status": status}
        if reason is not None:
            response["statusInfo"] = {"reasonCode": reason}
        return response

    async def get_local_list_version(payload: dict[str, Any]) -> dict[str, Any]:
        return {"versionNumber": local_list.version}

    return {"SendLocalList": send_local_list, "GetLocalListVersion": get_local_list_version}
