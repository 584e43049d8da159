"""Certificates and stations: each station's certificate inventory, what the CSMS installed
on it (InstallCertificate and the answer), and every CSR it sent with what became of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csms.store.db import Db, connection


@dataclass(frozen=True)
class HashFields:
    """The four fields of a CertificateHashDataType, as stored (lower-case hex)."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    def values(self) -> tuple[str, str, str, str]:
        """The fields in column order."""
        return (self.hash_algorithm, self.issuer_name_hash, self.issuer_key_hash,
                self.serial_number)


@dataclass(frozen=True)
class NewEntry:
    """A certificate a station reported (GetInstalledCertificateIds)."""

    certificate_type: str
    hash: HashFields
    children: list[dict[str, Any]] = field(default_factory=list)
    install_id: int | None = None


@dataclass(frozen=True)
class InventoryEntry:
    """One certificate installed on a station, as the CSMS knows it.

    ``source``: ``reported`` (the station listed it) or ``installed`` (the station accepted
    it from the CSMS and has not listed its certificates since). ``subject``, ``issuer`` and
    ``not_after`` are known when the CSMS installed the certificate itself."""

    station_id: str
    certificate_type: str
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str
    child_hash_data: list[dict[str, Any]]
    source: str
    seen_at: datetime
    install_id: int | None
    subject: str | None
    issuer: str | None
    not_after: datetime | None


_INVENTORY = """
    SELECT s.station_id, s.certificate_type, s.hash_algorithm, s.issuer_name_hash,
           s.issuer_key_hash, s.serial_number, s.child_hash_data, s.source, s.seen_at,
           s.install_id, i.subject, i.issuer, i.not_after
    FROM station_certificates s LEFT JOIN certificate_installs i ON i.id = s.install_id
"""


async def list_inventory(db: Db, station_id: str, types: Sequence[str] | None = None
                         ) -> list[InventoryEntry]:
    """The station's certificates (of ``types``, or all), by type and serial."""
    rows = await db.fetch(
        _INVENTORY + " WHERE s.station_id = $1 AND ($2::text[] IS NULL OR "
        "s.certificate_type = ANY($2)) ORDER BY s.certificate_type, s.serial_number",
        station_id, list(types) if types else None)
    return [InventoryEntry(**dict(r)) for r in rows]


async def replace_inventory(db: Db, station_id: str, types: Sequence[str] | None,
                            entries: Sequence[NewEntry]) -> None:
    """Make ``entries`` the station's certificates of ``types`` (all types for None): what
    it answered to GetInstalledCertificateIds for them."""
    async with connection(db) as conn, conn.transaction():
        await conn.execute(
            "DELETE FROM station_certificates WHERE station_id = $1 AND "
            "($2::text[] IS NULL OR certificate_type = ANY($2))",
            station_id, list(types) if types else None)
        await conn.executemany(
            """
            INSERT INTO station_certificates (station_id, certificate_type, hash_algorithm,
                issuer_name_hash, issuer_key_hash, serial_number, child_hash_data, install_id,
                source)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'reported')
            ON CONFLICT DO NOTHING
            """, [(station_id, e.certificate_type, *e.hash.values(), e.children, e.install_id)
                  for e in entries])


async def add_installed(db: Db, station_id: str, certificate_type: str, hash_fields: HashFields,
                        install_id: int) -> None:
    """Add a certificate the station accepted from the CSMS to its inventory."""
    await db.execute(
        """
        INSERT INTO station_certificates (station_id, certificate_type, hash_algorithm,
            issuer_name_hash, issuer_key_hash, serial_number, install_id, source)
        VALUES ($1, $2, $3, $4, $5, $6, $7, 'installed')
        ON CONFLICT (station_id, certificate_type, hash_algorithm, issuer_name_hash,
                     issuer_key_hash, serial_number)
        DO UPDATE SET install_id = $7, seen_at = now()
        """, station_id, certificate_type, *hash_fields.values(), install_id)


async def remove_certificate(db: Db, station_id: str, hash_fields: HashFields) -> int:
    """Remove a certificate the station no longer has (any type); how many rows went."""
    done = await db.execute(
        "DELETE FROM station_certificates WHERE station_id = $1 AND hash_algorithm = $2 AND "
        "issuer_name_hash = $3 AND issuer_key_hash = $4 AND serial_number = $5",
        station_id, *hash_fields.values())
    return int(done.split()[-1])


@dataclass(frozen=True)
class InstallRecord:
    """An InstallCertificate the station answered."""

    id: int
    station_id: str
    certificate_type: str
    certificate: str
    subject: str | None
    issuer: str | None
    serial_number: str | None
    not_after: datetime | None
    fingerprint: str | None
    command_id: int | None
    status: str
    reason: str | None
    answered_at: datetime


async def record_install(db: Db, station_id: str, certificate_type: str, certificate: str, *,
                         status: str, reason: str | None, command_id: int | None,
                         subject: str | None = None, issuer: str | None = None,
                         serial_number: str | None = None, not_after: datetime | None = None,
                         fingerprint: str | None = None) -> int:
    """Keep an InstallCertificate and the station's answer; the new row's id."""
    return await db.fetchval(
        """
        INSERT INTO certificate_installs (station_id, certificate_type, certificate, subject,
            issuer, serial_number, not_after, fingerprint, command_id, status, reason)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id
        """, station_id, certificate_type, certificate, subject, issuer, serial_number,
        not_after, fingerprint, command_id, status, reason)


async def list_installs(db: Db, station_id: str, *, accepted_only: bool = False
                        ) -> list[InstallRecord]:
    """InstallCertificates the station answered, newest first."""
    rows = await db.fetch(
        "SELECT * FROM certificate_installs WHERE station_id = $1 AND "
        "(NOT $2 OR status = 'Accepted') ORDER BY id DESC", station_id, accepted_only)
    return [InstallRecord(**dict(r)) for r in rows]


@dataclass(frozen=True)
class SigningRecord:
    """A CSR a station sent (A02/A03) and what became of it.

    ``delivery`` is the state of the CertificateSigned command (pending, sent, answered,
    error, timeout, offline, expired), None when none was sent."""

    id: int
    station_id: str
    certificate_type: str
    request_id: int | None
    csr_subject: str | None
    received_at: datetime
    status: str
    reason_code: str | None
    reason: str | None
    serial_number: str | None
    not_after: datetime | None
    command_id: int | None
    delivery: str | None
    delivery_error: str | None
    station_status: str | None
    station_reason: str | None
    answered_at: datetime | None


async def record_signing(db: Db, station_id: str, certificate_type: str, csr: str, *,
                         request_id: int | None, csr_subject: str | None, status: str,
                         reason_code: str | None = None, reason: str | None = None,
                         serial_number: str | None = None, not_after: datetime | None = None,
                         certificate_chain: str | None = None) -> int:
    """Keep a SignCertificate, the CSMS's answer and what it signed; the row's id."""
    return await db.fetchval(
        """
        INSERT INTO certificate_signings (station_id, certificate_type, request_id, csr,
            csr_subject, status, reason_code, reason, serial_number, not_after,
            certificate_chain)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id
        """, station_id, certificate_type, request_id, csr, csr_subject, status, reason_code,
        reason, serial_number, not_after, certificate_chain)


async def record_delivery(db: Db, signing_id: int, *, command_id: int | None = None,
                          error: str | None = None) -> None:
    """Note the CertificateSigned command that carries a signed certificate, or why none
    could be sent."""
    await db.execute("UPDATE certificate_signings SET command_id = $2, delivery_error = $3 "
                     "WHERE id = $1", signing_id, command_id, error)


async def record_signed_answer(db: Db, station_id: str, serial_number: str, status: str,
                               reason: str | None) -> bool:
    """Keep the station's answer to the CertificateSigned carrying ``serial_number``."""
    done = await db.execute(
        "UPDATE certificate_signings SET station_status = $3, station_reason = $4, "
        "answered_at = now() WHERE station_id = $1 AND serial_number = $2",
        station_id, serial_number, status, reason)
    return done != "UPDATE 0"


async def list_signings(db: Db, station_id: str | None = None, *, after_id: int = 0,
                        limit: int = 50) -> list[SigningRecord]:
    """CSRs received (of one station, or all) with an id above ``after_id``, newest first."""
    rows = await db.fetch(
        """
        SELECT s.id, s.station_id, s.certificate_type, s.request_id, s.csr_subject,
               s.received_at, s.status, s.reason_code, s.reason, s.serial_number, s.not_after,
               s.command_id, c.status AS delivery,
               coalesce(s.delivery_error, c.error_code || ': ' || c.error_description,
                        c.error_description) AS delivery_error,
               s.station_status, s.station_reason, s.answered_at
        FROM certificate_signings s LEFT JOIN commands c ON c.id = s.command_id
        WHERE ($1::text IS NULL OR s.station_id = $1) AND s.id > $2
        ORDER BY s.id DESC LIMIT $3
        """, station_id, after_id, limit)
    return [SigningRecord(**dict(r)) for r in rows]


async def last_signing_id(db: Db) -> int:
    """The id of the latest CSR received from any station (0 if none)."""
    return await db.fetchval("SELECT coalesce(max(id), 0) FROM certificate_signings")
