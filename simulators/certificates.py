"""The certificates of a simulated station (blocks A and M, station side).

The station keeps the root certificates the CSMS installs (M05), lists them as hash data (M03)
and deletes them (M04). Triggered to renew its certificate (A02), it makes a new P-256 key and
a CSR with its identity as CN and SecurityCtrlr.OrganizationName as O, sends SignCertificate,
and sends it again, waiting twice as long each time, while no certificate comes
(CertSigningWaitMinimum, CertSigningRepeatTimes). A certificate from CertificateSigned is
checked (A02.FR.06: validity period, the key of the CSR, the identity, a chain that ends in an
installed CSMS or V2G root when the station has one) and kept, or discarded with an
InvalidChargingStationCertificate security event (A02.FR.07). A security profile 3 station
reconnects at once with its new certificate (A02.FR.08); its TLS connections also trust the
CSMS root certificates installed on it.

The hash data are computed here, independently of the CSMS's code, as a station vendor would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from csms.ocppj import CallError
from simulators.evse import iso
from simulators.stationconfig import Offline

if TYPE_CHECKING:
    from simulators.port import StationPort

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]

#: What each TriggerMessage for a certificate asks the station to renew.
SIGN_TRIGGERS = {"SignChargingStationCertificate": "ChargingStationCertificate",
                 "SignV2GCertificate": "V2GCertificate",
                 "SignV2G20Certificate": "V2G20Certificate"}
#: The root that must anchor each kind of certificate the station is sent, if it has any.
_ANCHORS = {"ChargingStationCertificate": "CSMSRootCertificate",
            "V2GCertificate": "V2GRootCertificate", "V2G20Certificate": "V2GRootCertificate"}
_DIGESTS = {"SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}
_PEM = serialization.Encoding.PEM


def _digest(algorithm: str, data: bytes) -> str:
    digest = hashes.Hash(_DIGESTS[algorithm]())
    digest.update(data)
    return digest.finalize().hex()


def _key_bits(certificate: x509.Certificate) -> bytes:
    """The subjectPublicKey bits: for the EC keys this station uses, the encoded point; for
    RSA, the DER RSAPublicKey."""
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(serialization.Encoding.X962,
                                serialization.PublicFormat.UncompressedPoint)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


def certificate_hash_data(certificate: x509.Certificate, issuer: x509.Certificate,
                          algorithm: str) -> dict[str, str]:
    """A CertificateHashDataType for ``certificate`` issued by ``issuer``."""
    return {"hashAlgorithm": algorithm,
            "issuerNameHash": _digest(algorithm, certificate.issuer.public_bytes()),
            "issuerKeyHash": _digest(algorithm, _key_bits(issuer)),
            "serialNumber": format(certificate.serial_number, "x")}


def _same(wire: dict[str, Any], ours: dict[str, str]) -> bool:
    return (wire["issuerNameHash"].lower() == ours["issuerNameHash"]
            and wire["issuerKeyHash"].lower() == ours["issuerKeyHash"]
            and wire["serialNumber"].lower().lstrip("0") == ours["serialNumber"].lstrip("0"))


def _public(key: Any) -> bytes:
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _status(status: str, reason: str | None = None, detail: str | None = None
            ) -> dict[str, Any]:
    out: dict[str, Any] = {"status": status}
    if reason is not None:
        out["statusInfo"] = {"reasonCode": reason, **({"additionalInfo": detail[:512]}
                                                      if detail else {})}
    return out


@dataclass
class Root:
    """An installed root certificate."""

    certificate_type: str
    certificate: x509.Certificate


class StationCertificates:
    """The certificate store of one simulated station."""

    #: How many root certificates fit (an InstallCertificate beyond that Fails).
    slots = 10

    def __init__(self, station: StationPort) -> None:
        self.station = station
        self.roots: list[Root] = []
        #: The algorithm of the hash data the station reports.
        self.hash_algorithm = "SHA256"
        #: The Charging Station certificate chain and key it got from CertificateSigned.
        self.client: tuple[bytes, bytes] | None = None
        self.v2g_chain: list[x509.Certificate] = []
        self.pending: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._delivered: dict[str, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def handlers(self) -> dict[str, Handler]:
        """The handlers of the CSMS's certificate calls."""
        return {"InstallCertificate": self.install, "GetInstalledCertificateIds": self.listing,
                "DeleteCertificate": self.delete, "CertificateSigned": self.signed}

    # -- TLS ------------------------------------------------------------------------------

    def prepare_tls(self, context: ssl.SSLContext) -> None:
        """Trust the installed CSMS roots too and present the renewed certificate, if any."""
        for root in self.roots:
            if root.certificate_type == "CSMSRootCertificate":
                context.load_verify_locations(cadata=root.certificate.public_bytes(
                    _PEM).decode())
        if self.client is not None:
            with tempfile.TemporaryDirectory() as directory:
                cert, key = Path(directory) / "cert.pem", Path(directory) / "key.pem"
                cert.write_bytes(self.client[0])
                key.write_bytes(self.client[1])
                context.load_cert_chain(cert, key)

    # -- M05, M03, M04 --------------------------------------------------------------------

    async def install(self, payload: dict[str, Any]) -> dict[str, Any]:
        """M05: keep a valid, self-signed CA certificate."""
        try:
            certificate = x509.load_pem_x509_certificate(payload["certificate"].encode())
        except ValueError:
            return _status("Rejected", "InvalidCertificate", "not a PEM certificate")
        now = dt.datetime.now(dt.UTC)
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            return _status("Rejected", "InvalidCertificate", "not valid now")  # TC_M_07
        try:
            ca = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            ca = False
        if not ca or not _issued_by(certificate, certificate):
            return _status("Rejected", "InvalidCertificate", "not a root CA certificate")
        kind = payload["certificateType"]
        if any(r.certificate_type == kind and r.certificate == certificate
               for r in self.roots):
            return _status("Accepted")
        if len(self.roots) >= self.slots:
            return _status("Failed", "OutOfStorage", f"{self.slots} certificates installed")
        self.roots.append(Root(kind, certificate))
        self._count()
        return _status("Accepted")

    async def listing(self, payload: dict[str, Any]) -> dict[str, Any]:
        """M03: hash data of the installed certificates of the types asked (all if none)."""
        wanted = payload.get("certificateType") or None
        chains: list[dict[str, Any]] = []
        for root in self.roots:
            if wanted is None or root.certificate_type in wanted:
                chains.append({"certificateType": root.certificate_type,
                               "certificateHashData": self._hash(root.certificate,
                                                                 root.certificate)})
        if self.v2g_chain and (wanted is None or "V2GCertificateChain" in wanted):
            issuers = self._issuers(self.v2g_chain)
            if issuers is not None:
                entry: dict[str, Any] = {"certificateType": "V2GCertificateChain",
                                         "certificateHashData": self._hash(
                                             self.v2g_chain[0], issuers[0])}
                if len(self.v2g_chain) > 1:
                    entry["childCertificateHashData"] = [
                        self._hash(c, i) for c, i in zip(self.v2g_chain[1:], issuers[1:],
                                                         strict=True)]
                chains.append(entry)
        if not chains:
            return _status("NotFound")
        return {"status": "Accepted", "certificateHashDataChain": chains}

    def _hash(self, certificate: x509.Certificate, issuer: x509.Certificate
              ) -> dict[str, str]:
        return certificate_hash_data(certificate, issuer, self.hash_algorithm)

    def _issuers(self, chain: list[x509.Certificate], kind: str | None = None
                 ) -> list[x509.Certificate] | None:
        """The issuer of each certificate of ``chain``: the next one, or an installed root
        (of type ``kind`` if given); None when one has none."""
        anchors = [r.certificate for r in self.roots
                   if kind is None or r.certificate_type == kind]
        issuers = []
        for index, certificate in enumerate(chain):
            above = chain[index + 1:index + 2] + anchors
            issuer = next((c for c in above if _issued_by(certificate, c)), None)
            if issuer is None:
                return None
            issuers.append(issuer)
        return issuers

    async def delete(self, payload: dict[str, Any]) -> dict[str, Any]:
        """M04: delete a root; never the station's own certificate, nor the last CSMS root
        while it secures the connection."""
        wanted = payload["certificateHashData"]
        algorithm = wanted["hashAlgorithm"]
        if self._is_own_certificate(wanted, algorithm):
            return _status("Failed", "NotAllowed", "the Charging Station certificate")
        for root in self.roots:
            if not _same(wanted, certificate_hash_data(root.certificate, root.certificate,
                                                       algorithm)):
                continue
            csms_roots = [r for r in self.roots if r.certificate_type == "CSMSRootCertificate"]
            if (root.certificate_type == "CSMSRootCertificate" and len(csms_roots) == 1
                    and self.station.url.startswith("wss://") and self.station.online):
                return _status("Failed", "InUse", "the CSMS root of the current connection")
            self.roots.remove(root)
            self._count()
            return _status("Accepted")
        if self.v2g_chain:
            issuers = self._issuers(self.v2g_chain)
            if issuers and _same(wanted, certificate_hash_data(self.v2g_chain[0], issuers[0],
                                                               algorithm)):
                self.v2g_chain = []
                return _status("Accepted")
        return _status("NotFound")

    def _is_own_certificate(self, wanted: dict[str, Any], algorithm: str) -> bool:
        chain = self._client_chain()
        if not chain:
            return False
        issuers = self._issuers(chain)
        issuer = issuers[0] if issuers else chain[0]
        return _same(wanted, certificate_hash_data(chain[0], issuer, algorithm))

    def _client_chain(self) -> list[x509.Certificate]:
        if self.client is not None:
            return x509.load_pem_x509_certificates(self.client[0])
        if self.station.config.cert_file:
            return x509.load_pem_x509_certificates(Path(self.station.config.cert_file)
                                                   .read_bytes())
        return []

    def _count(self) -> None:
        self.station.model.set("SecurityCtrlr", "CertificateEntries", str(len(self.roots)))

    # -- A02 --------------------------------------------------------------------------------

    def trigger(self, requested: str) -> dict[str, Any]:
        """F06 TriggerMessage for a certificate: renew it (A02), after this answer."""
        kind = SIGN_TRIGGERS[requested]
        task = asyncio.create_task(self._renew(kind))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return _status("Accepted")

    def _csr(self, kind: str) -> str:
        key = ec.generate_private_key(ec.SECP256R1())
        self.pending[kind] = key
        organization = self.station.model.get("SecurityCtrlr", "OrganizationName")
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                          x509.NameAttribute(NameOID.COMMON_NAME, self.station.id)])
        csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(
            key, hashes.SHA256())
        return csr.public_bytes(_PEM).decode()

    async def _renew(self, kind: str) -> None:
        """Send the CSR until a certificate comes, waiting CertSigningWaitMinimum seconds,
        twice as long after each try, at most CertSigningRepeatTimes more times."""
        model = self.station.model
        wait = float(model.get("SecurityCtrlr", "CertSigningWaitMinimum"))
        repeats = int(model.get("SecurityCtrlr", "CertSigningRepeatTimes"))
        csr = self._csr(kind)
        delivered = self._delivered[kind] = asyncio.Event()
        for _attempt in range(repeats + 1):
            try:
                answer = await self.station.request("SignCertificate", {
                    "csr": csr, "certificateType": kind})
            except (Offline, CallError, TimeoutError) as exc:
                self.station.log.info("station.sign_certificate_failed", error=str(exc))
                return
            if answer["status"] != "Accepted":
                self.pending.pop(kind, None)
                return
            try:
                await asyncio.wait_for(delivered.wait(), wait)
                return
            except TimeoutError:
                wait *= 2

    async def signed(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A02: check and keep the certificate the CSMS signed, or discard it and say so."""
        kind = payload.get("certificateType", "ChargingStationCertificate")
        problem, chain = self._check(kind, payload["certificateChain"])
        if problem is not None:
            if kind == "ChargingStationCertificate":
                self.station.enqueue([("SecurityEventNotification", {
                    "type": "InvalidChargingStationCertificate", "timestamp": iso(time.time()),
                    "techInfo": problem[:255]})])
            return _status("Rejected", "InvalidCertificate", problem)
        key = self.pending.pop(kind)
        if kind in self._delivered:
            self._delivered.pop(kind).set()
        if kind == "ChargingStationCertificate":
            self.client = (payload["certificateChain"].encode(), key.private_bytes(
                _PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            if self.station.url.startswith("wss://") and self.station.config.cert_file:
                # Security profile 3: log in again with the new certificate now (A02.FR.08).
                self.station.reconnect_now = True
                self.station.wake()
        else:
            self.v2g_chain = chain
        return _status("Accepted")

    def _check(self, kind: str, pem: str) -> tuple[str | None, list[x509.Certificate]]:
        try:
            chain = x509.load_pem_x509_certificates(pem.encode())
        except ValueError:
            return "not a PEM certificate chain", []
        leaf, key = chain[0], self.pending.get(kind)
        if key is None:
            return f"no {kind} was requested", chain
        if _public(leaf.public_key()) != _public(key.public_key()):
            return "the certificate is not for the key of the last CSR", chain
        now = dt.datetime.now(dt.UTC)
        if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
            return "the certificate is not valid now", chain
        names = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if kind == "ChargingStationCertificate" and (not names or names[0].value !=
                                                     self.station.id):
            return "the certificate's CN is not the station identity", chain
        anchors = [r for r in self.roots if r.certificate_type == _ANCHORS[kind]]
        if anchors and self._issuers(chain, _ANCHORS[kind]) is None:
            return f"the chain does not end in an installed {_ANCHORS[kind]}", chain
        return None, chain
