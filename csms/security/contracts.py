"""The contract-certificate backend: where the CSMS forwards an EV's ISO 15118
CertificateInstallationReq / CertificateUpdateReq (Get15118EVCertificate, M01/M02).

The CSMS does not parse the EXI stream; a backend (a mobility operator's or a contract
certificate pool's adapter) does. The exchange is one JSON POST::

    POST <contract URL>
    {"stationId": "CS-1", "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
     "action": "Install", "exiRequest": "<base64>",
     "maximumContractCertificateChains": 1, "prioritizedEMAIDs": ["..."]}   (2.1 only)

    200 {"status": "Accepted", "exiResponse": "<base64>", "remainingContracts": 0,
         "statusInfo": {"reasonCode": "...", "additionalInfo": "..."}}     (last two optional)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from csms.security import http

#: The fields of a Get15118EVCertificateRequest the backend receives.
FORWARDED = ("iso15118SchemaVersion", "action", "exiRequest",
             "maximumContractCertificateChains", "prioritizedEMAIDs")


class ContractBackendError(Exception):
    """The backend could not be asked or gave no usable answer; the message says why."""


@dataclass(frozen=True)
class ContractAnswer:
    """The backend's answer, ready for a Get15118EVCertificateResponse."""

    status: str  #: Accepted or Failed
    exi_response: str
    remaining_contracts: int | None = None
    reason_code: str | None = None
    additional_info: str | None = None


async def request_contract(url: str, station_id: str, request: dict[str, Any], *,
                           timeout: float) -> ContractAnswer:
    """Forward a Get15118EVCertificateRequest to the backend at ``url``."""
    body = {"stationId": station_id, **{k: request[k] for k in FORWARDED if k in request}}
    try:
        answer = await http.post(url, json.dumps(body).encode(), "application/json",
                                 accept="application/json", timeout=timeout)
    except http.HttpError as exc:
        raise ContractBackendError(str(exc)) from None
    try:
        data = json.loads(answer.body)
    except ValueError:
        raise ContractBackendError(f"{url} answered something that is not JSON") from None
    return _answer(url, data)


def _answer(url: str, data: Any) -> ContractAnswer:
    if not isinstance(data, dict):
        raise ContractBackendError(f"{url} answered JSON that is not an object")
    status, exi = data.get("status"), data.get("exiResponse", "")
    if status not in ("Accepted", "Failed"):
        raise ContractBackendError(f"{url} answered status {status!r}, not Accepted or Failed")
    if not isinstance(exi, str) or (status == "Accepted" and not exi):
        raise ContractBackendError(f"{url} answered no exiResponse")
    remaining = data.get("remainingContracts")
    if remaining is not None and (not isinstance(remaining, int) or remaining < 0):
        raise ContractBackendError(f"{url} answered remainingContracts {remaining!r}")
    info = data.get("statusInfo") if isinstance(data.get("statusInfo"), dict) else {}
    code, extra = info.get("reasonCode"), info.get("additionalInfo")
    return ContractAnswer(status, exi, remaining, str(code) if code else None,
                          str(extra) if extra else None)
