"""``csms certs install | installed | delete | renew | requests``: the certificates of a
station (blocks A and M), through :mod:`csms.operations.certificates`."""

from __future__ import annotations

import json
import string
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from csms.cli.base import (
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    StationId,
    with_store_url,
)
from csms.cli.errors import CliError, ExitCode, not_found, shown, usage
from csms.cli.operations import invalid, unknown_station
from csms.cli.output import print_json, print_table
from csms.operations import Operations, Outcome, Status
from csms.operations import certificates as calls
from csms.operations.certificates import RenewStage
from csms.security.hashdata import CertificateError, CertificateHashData, normal_serial
from csms.store.station_certificates import InventoryEntry, list_signings
from csms.store.stations import get_station

T = TypeVar("T")

INSTALL_TYPES = ("V2GRootCertificate", "MORootCertificate", "CSMSRootCertificate",
                 "ManufacturerRootCertificate", "OEMRootCertificate")
LIST_TYPES = (*INSTALL_TYPES, "V2GCertificateChain")

#: CertificateHashDataType limits (OCPP 2.0.1 and 2.1).
HASH_ALGORITHMS = ("SHA256", "SHA384", "SHA512")
MAX_HASH, MAX_SERIAL = 128, 40
#: The option behind each request field, to name it when a station's version refuses one.
_OPTIONS = {"certificateType": "--type", "certificate": "--file",
            "certificateHashData": "--hash-data"}

TimeoutOption = Annotated[float, typer.Option(
    "--timeout", min=0.1, max=86400, help="Seconds to wait for the station's answer.")]
TypeFilter = Annotated[list[str] | None, typer.Option(
    "--type", metavar="TYPE", help="Only this certificate type (repeatable): "
    + ", ".join(LIST_TYPES) + ".", show_default=False)]

#: How a call that did not end Accepted ends the command (the private mapping of this group).
_EXIT = {Status.REJECTED: ExitCode.CALL_ERROR, Status.CALLERROR: ExitCode.CALL_ERROR,
         Status.TIMEOUT: ExitCode.TIMEOUT, Status.OFFLINE: ExitCode.OFFLINE,
         Status.DISCONNECTED: ExitCode.OFFLINE, Status.QUEUED: ExitCode.QUEUED,
         Status.EXPIRED: ExitCode.EXPIRED, Status.INVALID: ExitCode.USAGE,
         Status.UNKNOWN_STATION: ExitCode.NOT_FOUND}


def _failure(station_id: str, action: str, outcome: Outcome) -> CliError:
    """One line naming what went wrong with ``action``."""
    station = shown(station_id)
    if outcome.status is Status.UNKNOWN_STATION:
        return unknown_station(station_id)
    if outcome.status is Status.INVALID:
        return invalid(outcome, _OPTIONS)
    if outcome.status is Status.REJECTED:
        text = f"station {station} answered {action} with {outcome.describe()}"
    elif outcome.status is Status.CALLERROR:
        text = (f"station {station} answered {action} with CALLERROR "
                f"{outcome.error_code or ''}: {outcome.reason or 'no description'}")
    elif outcome.status is Status.TIMEOUT:
        text = f"station {station} did not answer {action} in time"
    else:
        text = f"{action} not sent: {outcome.reason or outcome.status.value}"
    return CliError(text, _EXIT.get(outcome.status, ExitCode.INTERNAL))


def with_operations(database_url: str | None, data_dir: Path | None,
                    fn: Callable[[Operations], Awaitable[T]]) -> T:
    """Open the store and an operations client, and run ``fn(ops)``."""
    async def go(pool: Any, url: str) -> T:
        async with Operations(pool, url) as ops:
            return await fn(ops)
    return with_store_url(database_url, data_dir, go)


async def _known(ops: Operations, station_id: str) -> None:
    known, _ = await ops.station_version(station_id)
    if not known:
        raise unknown_station(station_id)


def _check_types(types: list[str] | None, allowed: tuple[str, ...]) -> list[str] | None:
    for kind in types or []:
        if kind not in allowed:
            raise usage(f"--type: {shown(kind)} is not one of {', '.join(allowed)}")
    return list(dict.fromkeys(types)) if types else None


def install(
    station_id: StationId,
    certificate_type: Annotated[str, typer.Option(
        "--type", metavar="|".join(INSTALL_TYPES[:4]), help="What the certificate is for.")],
    file: Annotated[Path, typer.Option("--file", metavar="PEM",
                                       help="The root certificate (PEM).")],
    timeout: TimeoutOption = 30.0,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Install a root certificate on a station (M05, InstallCertificate)."""
    _check_types([certificate_type], INSTALL_TYPES)
    pem = read_pem("--file", file)
    problem = calls.install_problem(pem, certificate_type)
    if problem is not None:
        raise usage(f"--file {file}: {problem}")

    async def go(ops: Operations) -> Outcome:
        return await calls.install_certificate(ops, station_id, certificate_type, pem,
                                               timeout=timeout)

    outcome = with_operations(database_url, data_dir, go)
    if json_out:
        print_json({"status": outcome.station_status or outcome.status.value,
                    "response": outcome.response})
    if not outcome.ok:
        raise _failure(station_id, "InstallCertificate", outcome)
    if not json_out:
        typer.echo(f"Accepted: {station_id} installed the {certificate_type}")


def _entry(entry: InventoryEntry) -> dict[str, Any]:
    return {"type": entry.certificate_type, "serial": entry.serial_number,
            "algorithm": entry.hash_algorithm, "subject": entry.subject, "issuer": entry.issuer,
            "not_after": entry.not_after, "source": entry.source, "seen_at": entry.seen_at,
            "certificateHashData": CertificateHashData(
                entry.hash_algorithm, entry.issuer_name_hash, entry.issuer_key_hash,
                entry.serial_number).to_wire(),
            "childCertificateHashData": entry.child_hash_data}


def installed(
    station_id: StationId,
    types: TypeFilter = None,
    refresh: Annotated[bool, typer.Option(
        "--refresh", help="Ask the station first (GetInstalledCertificateIds).")] = False,
    timeout: TimeoutOption = 30.0,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List a station's installed certificates as the CSMS knows them (M03).

    The record is the station's last GetInstalledCertificateIds answer for each type, plus
    what it accepted from the CSMS since; --refresh asks the station now.
    """
    wanted = _check_types(types, LIST_TYPES)

    async def go(ops: Operations) -> calls.Inventory:
        await _known(ops, station_id)
        return await calls.station_inventory(ops, station_id, wanted, refresh=refresh,
                                             timeout=timeout)

    inventory = with_operations(database_url, data_dir, go)
    if inventory.outcome is not None and not inventory.outcome.ok:
        raise _failure(station_id, "GetInstalledCertificateIds", inventory.outcome)
    rows = [_entry(e) for e in inventory.entries]
    if json_out:
        print_json(rows)
        return
    print_table(rows, ["type", "serial", "algorithm", "subject", "not_after", "source",
                       "seen_at"], empty="(no certificates known; --refresh asks the station)")


def read_pem(option: str, path: Path) -> str:
    """The text of a PEM file named by ``option``; a usage error when it cannot be read."""
    try:
        return path.read_text(encoding="ascii")
    except OSError as exc:
        raise usage(f"{option} {path}: {exc.strerror or type(exc).__name__}") from None
    except UnicodeDecodeError:
        raise usage(f"{option} {path}: not a PEM file (it is not ASCII text)") from None


def serial_option(option: str, text: str) -> str:
    """A certificate serial number in hexadecimal (``0x`` and colons allowed), normalised as
    the CSMS stores it; a usage error naming ``option``."""
    digits = text.strip().lower().removeprefix("0x").replace(":", "")
    if not digits or len(digits) > MAX_SERIAL or any(c not in string.hexdigits for c in digits):
        raise usage(f"{option}: {shown(text)} is not a hexadecimal serial number (at most "
                    f"{MAX_SERIAL} digits)")
    return normal_serial(digits)


def hash_data_option(text: str) -> CertificateHashData:
    """The value of a ``--hash-data`` option: a CertificateHashDataType in JSON (or an
    inventory entry holding one)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise usage(f"--hash-data: not valid JSON ({exc.msg} at character {exc.pos})"
                    ) from None
    if not isinstance(value, dict):
        raise usage("--hash-data: must be a JSON object (a CertificateHashDataType)")
    value = value.get("certificateHashData", value)
    fields = ("hashAlgorithm", "issuerNameHash", "issuerKeyHash", "serialNumber")
    if not isinstance(value, dict) or not all(isinstance(value.get(f), str) for f in fields):
        raise usage("--hash-data: needs hashAlgorithm, issuerNameHash, issuerKeyHash and "
                    "serialNumber, each a string")
    if value["hashAlgorithm"] not in HASH_ALGORITHMS:
        raise usage(f"--hash-data: hashAlgorithm {shown(value['hashAlgorithm'])} is not one of "
                    f"{', '.join(HASH_ALGORITHMS)}")
    for name in ("issuerNameHash", "issuerKeyHash"):
        digits = value[name].strip()
        if (not digits or len(digits) > MAX_HASH
                or any(c not in string.hexdigits for c in digits)):
            raise usage(f"--hash-data: {name} {shown(value[name])} is not hexadecimal of at "
                        f"most {MAX_HASH} digits")
    serial_option("--hash-data: serialNumber", value["serialNumber"])
    try:
        return CertificateHashData.from_wire(value)
    except CertificateError as exc:
        raise usage(f"--hash-data: {exc}") from None


def delete(
    station_id: StationId,
    hash_data: Annotated[str | None, typer.Option(
        "--hash-data", metavar="JSON", help="The certificate's CertificateHashDataType, as "
        "'installed --json' prints it.", show_default=False)] = None,
    serial: Annotated[str | None, typer.Option(
        "--serial", metavar="HEX", help="The serial number (hex) of a certificate in the "
        "station's inventory.", show_default=False)] = None,
    issuer: Annotated[str | None, typer.Option(
        "--issuer", metavar="TEXT", help="With --serial: only a certificate whose issuer name "
        "contains TEXT, or whose issuerNameHash starts with it.", show_default=False)] = None,
    types: TypeFilter = None,
    timeout: TimeoutOption = 30.0,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Delete a certificate from a station (M04, DeleteCertificate).

    By --serial (with --type or --issuer where the serial is not enough) the certificate is
    looked up in the inventory, hashed as the station hashes it (M04.FR.07); by --hash-data it
    is named exactly.
    """
    if (hash_data is None) == (serial is None):
        raise usage("--hash-data / --serial: give exactly one")
    if issuer is not None and serial is None:
        raise usage("--issuer: goes with --serial")
    if issuer is not None and not (issuer.strip() and issuer.isprintable()):
        raise usage("--issuer: give part of the issuer's name, or of its issuerNameHash")
    wanted = _check_types(types, LIST_TYPES)
    data = hash_data_option(hash_data) if hash_data is not None else None
    number = serial_option("--serial", serial) if serial is not None else None

    async def go(ops: Operations) -> tuple[CertificateHashData, Outcome]:
        await _known(ops, station_id)
        target = data
        if target is None:
            assert number is not None
            found = await calls.find_by_serial(ops, station_id, number, wanted,
                                               issuer=issuer, timeout=timeout)
            if found.outcome is not None and not found.outcome.ok:
                raise _failure(station_id, "GetInstalledCertificateIds", found.outcome)
            if not found.entries:
                by = f" issued by {issuer}" if issuer is not None else ""
                raise not_found(f"--serial: no certificate with serial {number}{by} is known "
                                f"on {station_id} (csms certs installed {station_id} "
                                "--refresh asks the station)")
            if len(found.entries) > 1:
                kinds = ", ".join(e.certificate_type for e in found.entries)
                raise usage(f"--serial: {number} names {len(found.entries)} certificates "
                            f"({kinds}); add --type or --issuer, or use --hash-data")
            entry = found.entries[0]
            target = CertificateHashData(entry.hash_algorithm, entry.issuer_name_hash,
                                         entry.issuer_key_hash, entry.serial_number)
        return target, await calls.delete_certificate(ops, station_id, target,
                                                      timeout=timeout)

    target, outcome = with_operations(database_url, data_dir, go)
    if json_out:
        print_json({"status": outcome.station_status or outcome.status.value,
                    "certificateHashData": target.to_wire(), "response": outcome.response})
    if outcome.station_status == "NotFound":
        raise not_found(f"station {shown(station_id)} has no certificate with serial "
                        f"{target.serial_number} ({target.hash_algorithm} hash data)")
    if not outcome.ok:
        raise _failure(station_id, "DeleteCertificate", outcome)
    if not json_out:
        typer.echo(f"Accepted: {station_id} deleted the certificate with serial "
                   f"{target.serial_number}")


RENEW_TYPES = tuple(calls.RENEW_TRIGGERS)


def renew(
    station_id: StationId,
    certificate_type: Annotated[str, typer.Option(
        "--type", metavar="|".join(RENEW_TYPES), help="The certificate to renew.")
    ] = "ChargingStationCertificate",
    timeout: Annotated[float, typer.Option(
        "--timeout", min=0.1, max=86400, help="Seconds to follow the renewal.")] = 60.0,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Have a station renew its certificate (A02) and follow the renewal.

    Sends TriggerMessage, then follows the station's CSR, its signing by the CA set with
    'csms certs ca', the CertificateSigned and the station's answer.
    """
    _check_types([certificate_type], RENEW_TYPES)

    async def go(ops: Operations) -> calls.Renewal:
        await _known(ops, station_id)
        return await calls.renew(ops, station_id, certificate_type, timeout=timeout)

    renewal = with_operations(database_url, data_dir, go)
    signing = renewal.signing
    if json_out:
        print_json({"stage": renewal.stage, "signing": signing,
                    "trigger": None if renewal.trigger is None else
                    renewal.trigger.station_status or renewal.trigger.status.value})
    _renewal_end(station_id, certificate_type, timeout, renewal, json_out)


def _renewal_end(station_id: str, kind: str, timeout: float, renewal: calls.Renewal,
                 json_out: bool) -> None:
    signing, stage = renewal.signing, renewal.stage
    if stage is RenewStage.INSTALLED:
        if not json_out:
            assert signing is not None
            typer.echo(f"Accepted: {station_id} installed its new {kind}, serial "
                       f"{signing.serial_number}, valid until {signing.not_after:%Y-%m-%d}")
        return
    if stage is RenewStage.NO_CA:
        raise usage(f"--type: no certificate authority is configured for {kind} "
                    "certificates; set one with csms certs ca")
    if stage is RenewStage.TRIGGER_REFUSED:
        assert renewal.trigger is not None
        raise _failure(station_id, "TriggerMessage", renewal.trigger)
    if stage is RenewStage.NO_CSR:
        raise CliError(f"station {station_id} accepted the trigger but sent no "
                       f"SignCertificate within {timeout:g} s", ExitCode.TIMEOUT)
    assert signing is not None
    if stage is RenewStage.CSR_REJECTED:
        raise CliError(f"the CSMS rejected the CSR of {station_id}: {signing.reason_code}: "
                       f"{signing.reason}", ExitCode.CALL_ERROR)
    if stage is RenewStage.NOT_DELIVERED:
        code = ExitCode.TIMEOUT if signing.delivery == "timeout" else ExitCode.OFFLINE
        raise CliError(f"the certificate signed for {station_id} (serial "
                       f"{signing.serial_number}) did not reach it: "
                       f"{signing.delivery_error or signing.delivery}", code)
    if stage is RenewStage.STATION_REJECTED:
        raise CliError(f"station {station_id} rejected its new certificate (serial "
                       f"{signing.serial_number}): {signing.station_reason or 'no reason'}",
                       ExitCode.CALL_ERROR)
    raise CliError(f"station {station_id} did not answer the CertificateSigned (serial "
                   f"{signing.serial_number}) within {timeout:g} s", ExitCode.TIMEOUT)


def requests(
    station_id: Annotated[str | None, typer.Argument(
        metavar="[ID]", help="Only this station's.", show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000,
                                       help="Show at most this many.")] = 50,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List the CSRs stations sent (A02/A03), newest first.

    Each with the CSMS's answer, the certificate signed, its delivery and the station's
    answer to it.
    """
    async def go(pool: Any, _url: str) -> list[Any]:
        if station_id is not None and await get_station(pool, station_id) is None:
            raise unknown_station(station_id)
        return await list_signings(pool, station_id, limit=limit)

    rows = with_store_url(database_url, data_dir, go)
    if json_out:
        print_json(rows)
        return
    table = [{"id": r.id, "station": r.station_id, "type": r.certificate_type,
              "received_at": r.received_at, "answer": r.status,
              "reason": r.reason_code, "serial": r.serial_number, "not_after": r.not_after,
              "delivery": r.delivery or (r.delivery_error and "not sent"),
              "station_answer": r.station_status} for r in rows]
    print_table(table, ["id", "station", "type", "received_at", "answer", "reason", "serial",
                        "not_after", "delivery", "station_answer"],
                empty="(no certificate signing requests)")


COMMANDS = {"install": install, "installed": installed, "delete": delete, "renew": renew,
            "requests": requests}
