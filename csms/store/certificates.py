"""The CSMS's own certificate settings: the CAs that sign station certificates, where
contract certificates and OCSP answers come from, trusted contract roots, the operator's
revocation list and cached OCSP answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from csms.store.db import Db

#: Matches every http(s) responder URL in ``ocsp_responders``.
ANY_RESPONDER = "*"


@dataclass(frozen=True)
class CertificateSettings:
    """Where the CSMS asks on stations' behalf (``csms certs settings``)."""

    contract_url: str | None
    ocsp_responders: tuple[str, ...]
    http_timeout_s: float
    updated_at: datetime | None = None

    def ocsp_allowed(self, url: str) -> bool:
        """True when the responder at ``url`` may be asked: it starts with a configured
        prefix that ends at a boundary of the URL (so ``http://ocsp.example`` does not admit
        ``http://ocsp.example.evil``). URLs compare case-insensitively (OCSPRequestDataType)."""
        target = url.strip().lower()
        if not target.startswith(("http://", "https://")):
            return False
        for prefix in self.ocsp_responders:
            if prefix == ANY_RESPONDER:
                return True
            p = prefix.lower()
            if target.startswith(p) and (p.endswith("/") or len(target) == len(p)
                                         or target[len(p)] in "/:?#"):
                return True
        return False


async def get_settings(db: Db) -> CertificateSettings:
    """The current settings."""
    row = await db.fetchrow("SELECT contract_url, ocsp_responders, http_timeout_s, updated_at "
                            "FROM certificate_settings")
    return CertificateSettings(row["contract_url"], tuple(row["ocsp_responders"]),
                               float(row["http_timeout_s"]), row["updated_at"])


async def save_settings(db: Db, settings: CertificateSettings) -> CertificateSettings:
    """Replace the settings; returns them as stored."""
    await db.execute(
        "UPDATE certificate_settings SET contract_url = $1, ocsp_responders = $2, "
        "http_timeout_s = $3, updated_at = now()",
        settings.contract_url, list(settings.ocsp_responders), settings.http_timeout_s)
    return await get_settings(db)


@dataclass(frozen=True)
class AuthorityRecord:
    """Where the CA that signs one type of station certificate lives."""

    certificate_type: str
    cert_file: str
    key_file: str
    days: int
    updated_at: datetime


async def set_authority(db: Db, certificate_type: str, cert_file: str, key_file: str,
                        days: int) -> AuthorityRecord:
    """Make these files the CA for ``certificate_type`` (replacing any other)."""
    row = await db.fetchrow(
        """
        INSERT INTO signing_authorities (certificate_type, cert_file, key_file, days)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (certificate_type) DO UPDATE SET cert_file = $2, key_file = $3, days = $4,
            updated_at = now()
        RETURNING *
        """, certificate_type, cert_file, key_file, days)
    return AuthorityRecord(**dict(row))


async def get_authority(db: Db, certificate_type: str) -> AuthorityRecord | None:
    """The CA for ``certificate_type``, or None."""
    row = await db.fetchrow("SELECT * FROM signing_authorities WHERE certificate_type = $1",
                            certificate_type)
    return AuthorityRecord(**dict(row)) if row else None


async def list_authorities(db: Db) -> list[AuthorityRecord]:
    """Every configured CA, by certificate type."""
    rows = await db.fetch("SELECT * FROM signing_authorities ORDER BY certificate_type")
    return [AuthorityRecord(**dict(r)) for r in rows]


async def remove_authority(db: Db, certificate_type: str) -> bool:
    """Forget the CA for ``certificate_type``; False if there was none."""
    done = await db.execute("DELETE FROM signing_authorities WHERE certificate_type = $1",
                            certificate_type)
    return done != "DELETE 0"


@dataclass(frozen=True)
class ContractRoot:
    """A root a contract certificate chain may end in."""

    fingerprint: str
    certificate_type: str
    certificate: str
    subject: str
    not_after: datetime
    added_at: datetime


async def add_contract_root(db: Db, certificate_type: str, pem: str, subject: str,
                            fingerprint: str, not_after: datetime) -> bool:
    """Trust a root; False when it was trusted already."""
    done = await db.execute(
        """
        INSERT INTO contract_roots (fingerprint, certificate_type, certificate, subject,
                                    not_after)
        VALUES ($1, $2, $3, $4, $5) ON CONFLICT (fingerprint) DO NOTHING
        """, fingerprint, certificate_type, pem, subject, not_after)
    return done != "INSERT 0 0"


async def contract_roots(db: Db) -> list[ContractRoot]:
    """Every trusted contract root, oldest first."""
    rows = await db.fetch("SELECT * FROM contract_roots ORDER BY added_at, fingerprint")
    return [ContractRoot(**dict(r)) for r in rows]


async def remove_contract_root(db: Db, fingerprint: str) -> list[str]:
    """Stop trusting the roots whose fingerprint starts with ``fingerprint``; their
    fingerprints (none, one, or several when the prefix is ambiguous: then none is removed)."""
    rows = await db.fetch("SELECT fingerprint FROM contract_roots WHERE fingerprint LIKE $1",
                          fingerprint.lower() + "%")
    found = [r["fingerprint"] for r in rows]
    if len(found) == 1:
        await db.execute("DELETE FROM contract_roots WHERE fingerprint = $1", found[0])
    return found


@dataclass(frozen=True)
class Revocation:
    """An entry of the operator's revocation list. Without issuer hashes it names every
    certificate with that serial."""

    id: int
    serial_number: str
    hash_algorithm: str | None
    issuer_name_hash: str | None
    issuer_key_hash: str | None
    subject: str | None
    issuer: str | None
    reason: str | None
    revoked_at: datetime


async def add_revocation(db: Db, serial_number: str, *, hash_algorithm: str | None = None,
                         issuer_name_hash: str | None = None,
                         issuer_key_hash: str | None = None, subject: str | None = None,
                         issuer: str | None = None, reason: str | None = None) -> Revocation:
    """Add an entry to the revocation list."""
    row = await db.fetchrow(
        """
        INSERT INTO revoked_certificates (serial_number, hash_algorithm, issuer_name_hash,
                                          issuer_key_hash, subject, issuer, reason)
        VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *
        """, serial_number, hash_algorithm, issuer_name_hash, issuer_key_hash, subject, issuer,
        reason)
    return Revocation(**dict(row))


async def revocations_for(db: Db, serial_numbers: Sequence[str]) -> list[Revocation]:
    """The entries for any of these serial numbers (OCPP hex)."""
    rows = await db.fetch("SELECT * FROM revoked_certificates WHERE serial_number = ANY($1) "
                          "ORDER BY id", list(serial_numbers))
    return [Revocation(**dict(r)) for r in rows]


async def list_revocations(db: Db) -> list[Revocation]:
    """The whole revocation list, oldest first."""
    return [Revocation(**dict(r)) for r in
            await db.fetch("SELECT * FROM revoked_certificates ORDER BY id")]


async def remove_revocation(db: Db, entry_id: int) -> bool:
    """Take an entry off the list; False if there was none with that id."""
    done = await db.execute("DELETE FROM revoked_certificates WHERE id = $1", entry_id)
    return done != "DELETE 0"


#: (hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber) of a certificate.
HashKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class CachedOcsp:
    """An OCSP answer kept until its nextUpdate."""

    responder_url: str
    status: str
    response: bytes
    verified: bool
    this_update: datetime
    next_update: datetime
    revoked_at: datetime | None


async def cached_ocsp(db: Db, key: HashKey, now: datetime) -> CachedOcsp | None:
    """The cached answer for ``key`` still valid at ``now``, or None."""
    row = await db.fetchrow(
        """
        SELECT responder_url, status, response, verified, this_update, next_update, revoked_at
        FROM ocsp_responses
        WHERE hash_algorithm = $1 AND issuer_name_hash = $2 AND issuer_key_hash = $3
          AND serial_number = $4 AND next_update > $5
        """, *key, now)
    return CachedOcsp(**dict(row)) if row else None


async def store_ocsp(db: Db, key: HashKey, answer: CachedOcsp) -> None:
    """Keep an answer (replacing the previous one for the same certificate)."""
    await db.execute(
        """
        INSERT INTO ocsp_responses (hash_algorithm, issuer_name_hash, issuer_key_hash,
            serial_number, responder_url, status, response, verified, this_update,
            next_update, revoked_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (hash_algorithm, issuer_name_hash, issuer_key_hash, serial_number)
        DO UPDATE SET responder_url = $5, status = $6, response = $7, verified = $8,
            this_update = $9, next_update = $10, revoked_at = $11, fetched_at = now()
        """, *key, answer.responder_url, answer.status, answer.response, answer.verified,
        answer.this_update, answer.next_update, answer.revoked_at)
