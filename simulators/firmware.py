"""Firmware updates on a simulated station (L01 secure, L02 plain).

An accepted UpdateFirmware runs through the states of Part 2's firmware update process, each
reported with FirmwareStatusNotification: (DownloadScheduled until retrieveDateTime)
Downloading, Downloaded (DownloadFailed once the retries are used up), SignatureVerified or
InvalidSignature for a signed update, (InstallScheduled until installDateTime, or until the
running transaction has ended) Installing, InstallRebooting; then the station reboots, boots
with reason FirmwareUpdate and the new firmware version, and reports Installed.

Where the firmware comes from: plain HTTP on the loopback interface or the CSMS's host is
really fetched (an HTTP error or a refused connection fails the download); a location whose
scheme is not http(s), or that contains "missing", cannot be fetched; any other http(s)
location is not contacted, and the location's own text stands in for the image (a signature
over those bytes verifies). The new version is the location's file name without its
extensions (``.../fw-2.1.0.bin`` installs ``fw-2.1.0``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from simulators.transfer import TransferError, http_get, reachable

if TYPE_CHECKING:
    from simulators.port import StationPort

#: States after which an update can no longer be cancelled by a new one (L01.FR.27).
_NOT_CANCELLABLE = frozenset({"Installing", "InstallRebooting"})
_EXTENSIONS = re.compile(r"(\.(bin|img|fw|hex|zip|tar|gz|tgz|swu|raucb))+$", re.IGNORECASE)
#: Seconds the simulated steps take.
DOWNLOAD_S = 0.3
INSTALL_S = 0.5
REBOOT_WAIT_S = 120.0


def version_from(location: str, current: str) -> str:
    """The firmware version a location installs: its file name without extensions (at most
    50 characters, BootNotification's limit)."""
    name = urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]
    stem = _EXTENSIONS.sub("", name)
    return (stem or f"{current}-updated")[:50]


def certificate_problem(pem: str, revoked: set[int], now: datetime) -> str | None:
    """None for a usable signing certificate, else InvalidCertificate or RevokedCertificate
    (L01.FR.02)."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return "InvalidCertificate"
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return "InvalidCertificate"
    return "RevokedCertificate" if cert.serial_number in revoked else None


def signature_valid(pem: str, signature_b64: str, image: bytes) -> bool:
    """Whether ``signature_b64`` is the certificate key's SHA-256 signature of ``image``."""
    try:
        key = x509.load_pem_x509_certificate(pem.encode()).public_key()
        signature = base64.b64decode(signature_b64, validate=True)
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, image, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, image, ec.ECDSA(hashes.SHA256()))
        else:
            return False
    except (ValueError, InvalidSignature):
        return False
    return True


@dataclass
class Update:
    """One accepted UpdateFirmware."""

    request_id: int
    firmware: dict[str, Any]
    retries: int
    retry_interval: int
    status: str = "Accepted"


def _at(text: str | None) -> float | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


class FirmwareUpdater:
    """The station's firmware: the update under way (at most one) and its progress."""

    def __init__(self, station: StationPort) -> None:
        self.station = station
        self.current: Update | None = None
        self._task: asyncio.Task[None] | None = None
        #: Serial numbers of signing certificates this station's revocation list names.
        self.revoked_serials: set[int] = set()

    def handlers(self) -> dict[str, Any]:
        """The CSMS -> station actions this module answers."""
        return {"UpdateFirmware": self.update_firmware}

    async def update_firmware(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Answer UpdateFirmware and start (or refuse) the update."""
        fw = payload["firmware"]
        pem = fw.get("signingCertificate")
        if pem is not None:
            problem = certificate_problem(pem, self.revoked_serials, datetime.now(UTC))
            if problem is not None:
                if problem == "InvalidCertificate":  # L01.FR.02
                    self._security_event("InvalidFirmwareSigningCertificate")
                return {"status": problem}
        status = "Accepted"
        if self.current is not None:
            if self.current.status in _NOT_CANCELLABLE:
                return {"status": "Rejected",
                        "statusInfo": {"reasonCode": "Installing"}}  # L01.FR.27
            self._cancel()
            status = "AcceptedCanceled"  # L01.FR.24
        update = Update(payload["requestId"], fw, payload.get("retries", 0),
                        payload.get("retryInterval", 0))
        self.current = update
        self._task = asyncio.create_task(self._run(update))
        return {"status": status}

    def status_message(self) -> tuple[str, dict[str, Any]]:
        """The FirmwareStatusNotification a TriggerMessage asks for: the update under way
        with its requestId, else Idle."""
        if self.current is None or self.current.status == "Accepted":
            return ("FirmwareStatusNotification", {"status": "Idle"})
        return ("FirmwareStatusNotification", {"status": self.current.status,
                                               "requestId": self.current.request_id})

    def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.current = None

    def _report(self, update: Update, status: str) -> None:
        update.status = status
        self.station.enqueue([("FirmwareStatusNotification",
                               {"status": status, "requestId": update.request_id})])

    def _security_event(self, kind: str) -> None:
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.station.enqueue([("SecurityEventNotification", {"type": kind, "timestamp": now})])

    async def _run(self, update: Update) -> None:
        try:
            await asyncio.sleep(0.05)  # the response goes out first
            image = await self._download(update)
            if image is None:
                return
            if not await self._verify(update, image):
                return
            await self._wait_to_install(update)
            self._report(update, "Installing")
            await asyncio.sleep(INSTALL_S)
            await self._reboot(update)
        finally:
            if self.current is update and update.status not in _NOT_CANCELLABLE | {"Installed"}:
                self.current = None

    async def _download(self, update: Update) -> bytes | None:
        retrieve_at = _at(update.firmware["retrieveDateTime"])
        if retrieve_at is not None and retrieve_at > time.time():
            self._report(update, "DownloadScheduled")
            await asyncio.sleep(retrieve_at - time.time())
        location = update.firmware["location"]
        for attempt in range(update.retries + 1):
            self._report(update, "Downloading")
            try:
                return await self._fetch(location)
            except TransferError as exc:
                self.station.log.info("firmware.download_failed", location=location,
                                      attempt=attempt, error=str(exc))
                if attempt < update.retries:
                    await asyncio.sleep(update.retry_interval)
        self._report(update, "DownloadFailed")
        return None

    async def _fetch(self, location: str) -> bytes:
        scheme = urlsplit(location).scheme.lower()
        if scheme not in ("http", "https") or "missing" in location:
            await asyncio.sleep(DOWNLOAD_S)
            raise TransferError(f"cannot fetch {location}")
        if reachable(location, self.station.config.url):
            return await http_get(location)
        await asyncio.sleep(DOWNLOAD_S)  # not contacted: the location stands in for the image
        return location.encode()

    async def _verify(self, update: Update, image: bytes) -> bool:
        self._report(update, "Downloaded")
        fw = update.firmware
        if "signature" not in fw and "signingCertificate" not in fw:
            return True
        if signature_valid(fw.get("signingCertificate", ""), fw.get("signature", ""), image):
            self._report(update, "SignatureVerified")
            return True
        self._report(update, "InvalidSignature")
        self._security_event("InvalidFirmwareSignature")  # L01.FR.03
        return False

    async def _wait_to_install(self, update: Update) -> None:
        """InstallScheduled until installDateTime, then until no transaction runs."""
        install_at = _at(update.firmware.get("installDateTime"))
        if install_at is not None and install_at > time.time():
            self._report(update, "InstallScheduled")
            await asyncio.sleep(install_at - time.time())
        evse = self.station.evse
        if evse.tx is not None:
            if update.status != "InstallScheduled":
                self._report(update, "InstallScheduled")
            while True:  # the transaction ends when the driver leaves
                if evse.tx is None:
                    break
                await asyncio.sleep(0.5)

    async def _reboot(self, update: Update) -> None:
        station = self.station
        status = {"status": "InstallRebooting", "requestId": update.request_id}
        update.status = "InstallRebooting"
        with contextlib.suppress(Exception):  # sent before the reboot, if online
            await station.request("FirmwareStatusNotification", status)
        boots = station.stats.boots
        station.config.firmware_version = version_from(update.firmware["location"],
                                                       station.config.firmware_version)
        station.boot_reason = "FirmwareUpdate"
        station.reset_kind = "Immediate"
        station.wake()
        deadline = time.monotonic() + REBOOT_WAIT_S
        while not (station.online and station.stats.boots > boots):
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.1)
        self._report(update, "Installed")
        self.current = None
