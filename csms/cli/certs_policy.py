"""``csms certs ca | settings | roots | revoke | revocations``: what the CSMS itself uses for
certificates: the CA that signs station certificates, the contract backend and OCSP
responders it may ask, the contract roots it trusts, and the operator's revocation list."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Annotated, Any

import typer

from csms.cli.base import DatabaseUrlOption, DataDirOption, JsonOption, with_store
from csms.cli.certs_station import hash_data_option, read_pem, serial_option
from csms.cli.errors import not_found, shown, usage
from csms.cli.output import print_fields, print_json, print_table
from csms.security import http
from csms.security.hashdata import (
    CertificateError,
    describe,
    is_ca,
    is_self_signed,
    key_hash,
    load_one,
    name_hash,
    to_pem,
)
from csms.security.signing import DEFAULT_DAYS, SIGNING_TYPES, AuthorityError, SigningAuthority
from csms.store import certificates as store
from csms.store.certificates import ANY_RESPONDER, CertificateSettings

ROOT_TYPES = ("MORootCertificate", "V2GRootCertificate")


#: The longest --reason kept with a revocation.
MAX_REASON = 500


def _certificate(option: str, path: Path) -> Any:
    try:
        return load_one(read_pem(option, path))
    except CertificateError as exc:
        raise usage(f"{option} {path}: {exc}") from None


def ca(
    directory: Annotated[Path | None, typer.Option(
        "--dir", help="A PKI directory with ca.pem and ca.key ('csms certs init').",
        show_default=False)] = None,
    cert: Annotated[Path | None, typer.Option(
        "--cert", help="The CA certificate (PEM; may be followed by the CAs above it).",
        show_default=False)] = None,
    key: Annotated[Path | None, typer.Option("--key", help="The CA's private key (PEM).",
                                             show_default=False)] = None,
    certificate_type: Annotated[str, typer.Option(
        "--type", metavar="|".join(SIGNING_TYPES), help="The certificates it signs.")
    ] = "ChargingStationCertificate",
    days: Annotated[int, typer.Option("--days", min=1, max=3650,
                                      help="Validity of what it signs.")] = DEFAULT_DAYS,
    remove: Annotated[bool, typer.Option("--remove", help="Stop signing --type.")] = False,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show or set the CA that signs the certificates stations ask for (A02/A03).

    Every server node reads the files when a CSR comes in: give paths they can read. Without
    --dir, --cert or --remove, shows the CAs configured.
    """
    if certificate_type not in SIGNING_TYPES:
        raise usage(f"--type: {shown(certificate_type)} is not one of "
                    f"{', '.join(SIGNING_TYPES)}")
    if directory is not None and (cert is not None or key is not None):
        raise usage("--dir: give either --dir or --cert and --key")
    option = "--cert / --key"
    if directory is not None:
        cert, key, option = directory / "ca.pem", directory / "ca.key", f"--dir {directory}"
    if (cert is None) != (key is None):
        raise usage("--cert / --key: give both")
    if remove and cert is not None:
        raise usage("--remove: give no CA files with it")
    authority = None
    if cert is not None and key is not None:
        cert, key = cert.resolve(), key.resolve()
        try:
            authority = SigningAuthority.load(cert, key)
        except AuthorityError as exc:
            raise usage(f"{option}: {exc}") from None

    async def go(pool: Any) -> list[store.AuthorityRecord]:
        if remove and not await store.remove_authority(pool, certificate_type):
            raise not_found(f"--type: no CA is configured for {certificate_type}")
        if authority is not None:
            await store.set_authority(pool, certificate_type, str(cert), str(key), days)
        return await store.list_authorities(pool)

    records = with_store(database_url, data_dir, go)
    rows = [_authority_row(r) for r in records]
    if json_out:
        print_json(rows)
    else:
        print_table(rows, ["type", "subject", "not_after", "days", "cert_file", "problem"],
                    empty="(no CA configured: CSRs are rejected; see 'csms certs ca --help')")


def _authority_row(record: store.AuthorityRecord) -> dict[str, Any]:
    row: dict[str, Any] = {"type": record.certificate_type, "cert_file": record.cert_file,
                           "key_file": record.key_file, "days": record.days, "subject": None,
                           "not_after": None, "problem": None}
    try:
        authority = SigningAuthority.load(Path(record.cert_file), Path(record.key_file))
    except AuthorityError as exc:
        row["problem"] = str(exc)
    else:
        info = describe(authority.certificate)
        row.update(subject=info.subject, not_after=info.not_after)
    return row


def settings(
    contract_url: Annotated[str | None, typer.Option(
        "--contract-url", metavar="URL", help="Where Get15118EVCertificate requests go.",
        show_default=False)] = None,
    no_contract_url: Annotated[bool, typer.Option(
        "--no-contract-url", help="Answer Get15118EVCertificate Failed again.")] = False,
    responders: Annotated[list[str] | None, typer.Option(
        "--ocsp-responder", metavar="URL", help="An OCSP responder URL prefix the CSMS may "
        f"ask (repeatable; '{ANY_RESPONDER}' for any). Replaces the list.",
        show_default=False)] = None,
    no_ocsp: Annotated[bool, typer.Option("--no-ocsp", help="Ask no OCSP responder.")
                       ] = False,
    http_timeout: Annotated[float | None, typer.Option(
        "--http-timeout", min=0.1, max=60, help="Seconds to wait for a backend or "
        "responder.", show_default=False)] = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show or change the contract backend and OCSP responders the CSMS asks.

    The contract-certificate backend answers Get15118EVCertificate (M01/M02); OCSP responders
    answer GetCertificateStatus (M06) and the revocation checks of Authorize (C07).
    """
    if contract_url is not None and no_contract_url:
        raise usage("--contract-url: give it or --no-contract-url, not both")
    if responders and no_ocsp:
        raise usage("--ocsp-responder: give it or --no-ocsp, not both")
    if contract_url is not None:
        contract_url = _url("--contract-url", contract_url)
    checked = [r if r == ANY_RESPONDER else _url("--ocsp-responder", r)
               for r in responders or []]

    async def go(pool: Any) -> CertificateSettings:
        current = await store.get_settings(pool)
        changed = CertificateSettings(
            None if no_contract_url else contract_url or current.contract_url,
            () if no_ocsp else tuple(checked) if responders else current.ocsp_responders,
            http_timeout if http_timeout is not None else current.http_timeout_s)
        if changed != CertificateSettings(current.contract_url, current.ocsp_responders,
                                          current.http_timeout_s):
            return await store.save_settings(pool, changed)
        return current

    result = with_store(database_url, data_dir, go)
    if json_out:
        print_json(result)
        return
    print_fields({"contract_url": result.contract_url or "(none: Get15118EVCertificate "
                  "answers Failed)",
                  "ocsp_responders": ", ".join(result.ocsp_responders) or
                  "(none: OCSP is not asked)",
                  "http_timeout_s": result.http_timeout_s})


def _url(option: str, url: str) -> str:
    try:
        return http.check_url(url)
    except http.HttpError:
        raise usage(f"{option}: {shown(url)} is not an http or https URL") from None


def roots(
    add: Annotated[Path | None, typer.Option(
        "--add", metavar="PEM", help="Trust this root certificate.", show_default=False)
    ] = None,
    certificate_type: Annotated[str, typer.Option(
        "--type", metavar="|".join(ROOT_TYPES), help="What the added root is.")
    ] = "MORootCertificate",
    remove: Annotated[str | None, typer.Option(
        "--remove", metavar="FINGERPRINT", help="Stop trusting the root whose SHA-256 "
        "fingerprint starts so.", show_default=False)] = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show, add or remove the trusted V2G and MO roots of contract certificates.

    A contract certificate chain sent whole in an Authorize must end in one of them (C07
    central validation).
    """
    if certificate_type not in ROOT_TYPES:
        raise usage(f"--type: {shown(certificate_type)} is not one of {', '.join(ROOT_TYPES)}")
    if add is not None and remove is not None:
        raise usage("--add / --remove: one at a time")
    if remove is not None and (not remove or any(c not in string.hexdigits for c in remove)):
        raise usage(f"--remove: {shown(remove)} is not the start of a SHA-256 fingerprint "
                    "(hexadecimal, as csms certs roots lists it)")
    root = None
    if add is not None:
        root = _certificate("--add", add)
        if not is_ca(root) or not is_self_signed(root):
            raise usage(f"--add {add}: not a self-signed CA certificate")

    async def go(pool: Any) -> list[store.ContractRoot]:
        if root is not None:
            info = describe(root)
            await store.add_contract_root(pool, certificate_type, to_pem(root), info.subject,
                                          info.fingerprint, info.not_after)
        if remove is not None:
            found = await store.remove_contract_root(pool, remove)
            if not found:
                raise not_found(f"--remove: no trusted root's fingerprint starts with {remove}")
            if len(found) > 1:
                raise usage(f"--remove: {remove} starts {len(found)} fingerprints; give more")
        return await store.contract_roots(pool)

    rows = [{"fingerprint": r.fingerprint, "type": r.certificate_type, "subject": r.subject,
             "not_after": r.not_after, "added_at": r.added_at}
            for r in with_store(database_url, data_dir, go)]
    if json_out:
        print_json(rows)
    else:
        print_table(rows, ["fingerprint", "type", "subject", "not_after"],
                    empty="(no trusted contract roots: central contract validation fails)")


def revoke(
    serial: Annotated[str | None, typer.Option(
        "--serial", metavar="HEX", help="The serial number (hex); any issuer unless "
        "--issuer-file names one.", show_default=False)] = None,
    hash_data_text: Annotated[str | None, typer.Option(
        "--hash-data", metavar="JSON", help="A CertificateHashDataType naming one "
        "certificate of one issuer.", show_default=False)] = None,
    file: Annotated[Path | None, typer.Option(
        "--file", metavar="PEM", help="The certificate itself.", show_default=False)] = None,
    issuer_file: Annotated[Path | None, typer.Option(
        "--issuer-file", metavar="PEM", help="Its issuer's certificate (with --file or "
        "--serial): only that issuer's certificate is revoked.", show_default=False)] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for the record.",
                                               show_default=False)] = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Put a contract certificate on the revocation list.

    An Authorize with it is answered CertificateRevoked, and its token Invalid (C07.FR.16).
    """
    if sum(x is not None for x in (serial, hash_data_text, file)) != 1:
        raise usage("--serial / --hash-data / --file: give exactly one")
    if issuer_file is not None and hash_data_text is not None:
        raise usage("--issuer-file: not with --hash-data (it names the issuer already)")
    if reason is not None and not (reason.strip() and len(reason) <= MAX_REASON
                                   and reason.isprintable()):
        raise usage(f"--reason: give 1 to {MAX_REASON} printable characters")
    fields: dict[str, Any] = {"reason": reason}
    if hash_data_text is not None:
        data = hash_data_option(hash_data_text)
        number = data.serial_number
        fields.update(hash_algorithm=data.hash_algorithm,
                      issuer_name_hash=data.issuer_name_hash,
                      issuer_key_hash=data.issuer_key_hash)
    elif file is not None:
        certificate = _certificate("--file", file)
        info = describe(certificate)
        number = info.serial_number
        fields.update(subject=info.subject, issuer=info.issuer)
    else:
        assert serial is not None
        number = serial_option("--serial", serial)
    if issuer_file is not None:
        issuer = _certificate("--issuer-file", issuer_file)
        if not is_ca(issuer):
            raise usage(f"--issuer-file {issuer_file}: not a CA certificate, so it issued no "
                        "certificate")
        named = file is not None and certificate.issuer != issuer.subject
        if named:
            raise usage(f"--issuer-file {issuer_file}: not the issuer of {file}")
        fields.update(hash_algorithm="SHA256", issuer_name_hash=name_hash(issuer, "SHA256"),
                      issuer_key_hash=key_hash(issuer, "SHA256"),
                      issuer=describe(issuer).subject)

    async def go(pool: Any) -> store.Revocation:
        return await store.add_revocation(pool, number, **fields)

    entry = with_store(database_url, data_dir, go)
    if json_out:
        print_json(entry)
    else:
        scope = "of that issuer" if entry.issuer_key_hash else "of any issuer"
        typer.echo(f"revoked: serial {entry.serial_number} {scope} (entry {entry.id})")


def revocations(
    remove: Annotated[int | None, typer.Option(
        "--remove", metavar="ENTRY", min=1, help="Take this entry off the list.",
        show_default=False)] = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show the revocation list (or take an entry off it)."""
    async def go(pool: Any) -> list[store.Revocation]:
        if remove is not None and not await store.remove_revocation(pool, remove):
            raise not_found(f"--remove: no revocation entry {remove}")
        return await store.list_revocations(pool)

    entries = with_store(database_url, data_dir, go)
    if json_out:
        print_json(entries)
        return
    rows = [{"entry": e.id, "serial": e.serial_number,
             "issuer": e.issuer or (e.issuer_key_hash and f"{e.hash_algorithm} "
                                    f"{e.issuer_key_hash[:16]}...") or "(any)",
             "subject": e.subject, "reason": e.reason, "revoked_at": e.revoked_at}
            for e in entries]
    print_table(rows, ["entry", "serial", "issuer", "subject", "reason", "revoked_at"],
                empty="(the revocation list is empty)")


COMMANDS = {"ca": ca, "settings": settings, "roots": roots, "revoke": revoke,
            "revocations": revocations}
