"""Diagnostics of a simulated station: log uploads (N01), customer information (N09, N10) and,
through :mod:`simulators.monitoring`, variable monitors and their events (N02 to N07).

Logs: the station keeps a journal of what happened to it (connections, boots, transactions,
connector states, events) and, on GetLog, writes it out as a text file and uploads it with an
HTTP PUT to the location given: LogStatusNotification Uploading, then Uploaded, or
UploadFailure once the retries are used up (a refused connection, an HTTP error, a host other
than loopback or the CSMS's). A location whose protocol is not in
OCPPCommCtrlr.FileTransferProtocols is Rejected; a new GetLog during an upload cancels it
(AcceptedCanceled).

Customer information: the station knows its customers by the idTokens of the transactions it
ran (and the simulated back office uses the token as the customer identifier too); it has no
customer certificates.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from simulators.evse import Message, iso
from simulators.monitoring import Monitors
from simulators.transfer import TransferError, http_put, reachable

if TYPE_CHECKING:
    from simulators.port import StationPort

JOURNAL_SIZE = 256
#: NotifyCustomerInformation.data holds at most 512 characters.
DATA_PART = 512


@dataclass
class Upload:
    """One accepted GetLog."""

    request_id: int
    log_type: str
    location: str
    filename: str
    oldest: float | None
    latest: float | None
    retries: int
    retry_interval: int
    status: str = "Accepted"


@dataclass
class CustomerRecord:
    """What the station holds about one idToken."""

    id_token: str
    token_type: str
    transactions: list[str] = field(default_factory=list)
    first_seen: float = 0.0
    last_seen: float = 0.0

    def describe(self) -> str:
        """The record as the text of a customer information report."""
        return (f"idToken={self.id_token} type={self.token_type}"
                f" first_seen={iso(self.first_seen)} last_seen={iso(self.last_seen)}"
                f" transactions={','.join(self.transactions)}\n")


def _at(text: str | None) -> float | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Diagnostics:
    """Logs, customer data and monitors of one station."""

    #: Seconds the station takes to gather a log before uploading it.
    prepare_s = 0.5

    def __init__(self, station: StationPort) -> None:
        self.station = station
        self.monitors = Monitors(station)
        #: (time, category, text); SecurityLog holds the "security" lines only
        self.journal: deque[tuple[float, str, str]] = deque(maxlen=JOURNAL_SIZE)
        self.customers: dict[tuple[str, str], CustomerRecord] = {}
        self.forgotten: set[str] = set()  # transactions of cleared customers
        self.upload: Upload | None = None
        self._task: asyncio.Task[None] | None = None
        self._seen: tuple[Any, ...] = ()
        self._seen_link: tuple[Any, ...] = ()

    def handlers(self) -> dict[str, Any]:
        """The CSMS -> station actions this module (and the monitors) answer."""
        return {"GetLog": self.get_log, "CustomerInformation": self.customer_information,
                **self.monitors.handlers()}

    # -- each control step ------------------------------------------------------------------

    def tick(self, now: float) -> list[Message]:
        """Note what changed in the journal and the customer records; the monitors' events."""
        station, evse = self.station, self.station.evse
        tx = evse.tx
        link = (station.online, station.stats.boots, station.stats.connects,
                station.config.firmware_version)
        if link != self._seen_link:
            self.note(now, "security", "link online={} boots={} connects={} firmware={}"
                      .format(*link))
            self._seen_link = link
        state = (evse.connector_status, tx.transaction_id if tx else None,
                 tx.charging_state if tx else None)
        if state != self._seen:
            self.note(now, "state", "connector={} transaction={} charging={}".format(*state))
            self._seen = state
        token = tx.id_token if tx is not None else None
        if token and token.get("idToken") and tx is not None and (
                tx.transaction_id not in self.forgotten):
            key = (token["idToken"], token["type"])
            record = self.customers.setdefault(
                key, CustomerRecord(token["idToken"], token["type"], first_seen=now))
            record.last_seen = now
            if tx.transaction_id not in record.transactions:
                record.transactions.append(tx.transaction_id)
        messages = self.monitors.check(now)
        for _, payload in messages:
            for event in payload["eventData"]:
                self.note(now, "event", f"{event['trigger']} {event['component']['name']}."
                               f"{event['variable']['name']}={event['actualValue']}"
                               f" monitor={event.get('variableMonitoringId')}")
        return messages

    def note(self, when: float, category: str, text: str) -> None:
        """Add a journal line."""
        self.journal.append((when, category, text))

    # -- GetLog -----------------------------------------------------------------------------

    def log_status_message(self) -> Message:
        """The LogStatusNotification a TriggerMessage asks for: Uploading with the requestId
        during an upload, else Idle."""
        if self.upload is not None and self.upload.status == "Uploading":
            return ("LogStatusNotification", {"status": "Uploading",
                                              "requestId": self.upload.request_id})
        return ("LogStatusNotification", {"status": "Idle"})

    async def get_log(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Answer GetLog and start the upload (N01)."""
        location = payload["log"]["remoteLocation"]
        protocols = self.station.model.get("OCPPCommCtrlr", "FileTransferProtocols").split(",")
        if urlsplit(location).scheme.upper() not in protocols:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "UnsupportedProtocol"}}
        status = "Accepted"
        if self.upload is not None:
            previous, self.upload = self.upload, None
            if self._task is not None:
                self._task.cancel()
            status = "AcceptedCanceled"
            self._report(previous, "AcceptedCanceled")
        log_type = payload["logType"]
        upload = Upload(payload["requestId"], log_type, location,
                        f"{self.station.id}-{log_type}-{payload['requestId']}.log",
                        _at(payload["log"].get("oldestTimestamp")),
                        _at(payload["log"].get("latestTimestamp")),
                        payload.get("retries", 0), payload.get("retryInterval", 0))
        self.upload = upload
        self._task = asyncio.create_task(self._run(upload))
        return {"status": status, "filename": upload.filename}

    def _report(self, upload: Upload, status: str) -> None:
        upload.status = status
        self.station.enqueue([("LogStatusNotification",
                               {"status": status, "requestId": upload.request_id})])

    def render(self, upload: Upload) -> bytes:
        """The log file: a header, then the journal lines within the span asked for."""
        station = self.station
        lines = [f"# {upload.log_type} of {station.id}",
                 f"# firmware {station.config.firmware_version}, OCPP {station.version}",
                 f"# written {iso(time.time())}"]
        for when, category, text in self.journal:
            if upload.oldest is not None and when < upload.oldest:
                continue
            if upload.latest is not None and when > upload.latest:
                continue
            if upload.log_type == "SecurityLog" and category != "security":
                continue
            lines.append(f"{iso(when)} {category} {text}")
        return ("\n".join(lines) + "\n").encode()

    async def _run(self, upload: Upload) -> None:
        try:
            await asyncio.sleep(0.05)  # the response goes out first
            for attempt in range(upload.retries + 1):
                self._report(upload, "Uploading")
                await asyncio.sleep(self.prepare_s)
                try:
                    await self._put(upload)
                except TransferError as exc:
                    self.note(time.time(), "log", f"log upload {upload.request_id} failed: {exc}")
                    if attempt < upload.retries:
                        await asyncio.sleep(upload.retry_interval)
                    continue
                self._report(upload, "Uploaded")
                return
            self._report(upload, "UploadFailure")  # N01.FR.10, after the last attempt
        finally:
            if self.upload is upload:
                self.upload = None

    async def _put(self, upload: Upload) -> None:
        if not reachable(upload.location, self.station.config.url):
            raise TransferError(f"{upload.location} is not reachable from this station")
        url = upload.location
        if url.endswith("/"):
            url += upload.filename
        await http_put(url, self.render(upload))

    # -- CustomerInformation ----------------------------------------------------------------

    async def customer_information(self, payload: dict[str, Any]) -> dict[str, Any]:
        """N09/N10: report and/or clear what the station holds about one customer."""
        named = [k for k in ("idToken", "customerCertificate", "customerIdentifier")
                 if k in payload]
        if len(named) != 1:
            return {"status": "Invalid"}  # N09.FR.09
        if not payload["report"] and not payload["clear"]:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "NothingToDo"}}
        records = self._records(payload)
        data = "".join(r.describe() for r in records)
        if payload["clear"]:
            for record in records:
                self.forgotten.update(record.transactions)
                del self.customers[(record.id_token, record.token_type)]
            self.note(time.time(), "security",
                      f"customer information cleared ({len(records)} record(s))")
        if payload["report"]:
            parts = [data[i:i + DATA_PART] for i in range(0, len(data), DATA_PART)] or [""]
            now = iso(time.time())
            self.station.enqueue([("NotifyCustomerInformation", {
                "data": part, "tbc": seq < len(parts) - 1, "seqNo": seq, "generatedAt": now,
                "requestId": payload["requestId"]}) for seq, part in enumerate(parts)])
        return {"status": "Accepted"}

    def _records(self, payload: dict[str, Any]) -> list[CustomerRecord]:
        if "idToken" in payload:
            token = payload["idToken"]
            key = (token["idToken"], token["type"])
            return [self.customers[key]] if key in self.customers else []
        if "customerIdentifier" in payload:
            wanted = payload["customerIdentifier"]
            return [r for r in self.customers.values() if r.id_token == wanted]
        return []
