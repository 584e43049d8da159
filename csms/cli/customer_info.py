"""``csms customer-info``: what a station holds about a customer, and clearing it (N09, N10).
Thin over :mod:`csms.operations.customer`."""

from __future__ import annotations

import string
from typing import Annotated, Any

import typer

from csms.cli.base import DatabaseUrlOption, DataDirOption, JsonOption, StationId
from csms.cli.errors import CliError, ExitCode, shown, usage
from csms.cli.operations import DEFAULT_TIMEOUT, TimeoutOption, check, with_operations
from csms.cli.output import print_json
from csms.cli.tokens import check_token, check_type
from csms.operations import customer as ops_customer
from csms.operations.customer import Customer

HASH_ALGORITHMS = ("SHA256", "SHA384", "SHA512")
CERTIFICATE_SYNTAX = "ALGORITHM:ISSUER_NAME_HASH:ISSUER_KEY_HASH:SERIAL"


#: CustomerInformationRequest limits (OCPP 2.0.1 and 2.1).
MAX_CUSTOMER_ID, MAX_HASH, MAX_SERIAL = 64, 128, 40
#: The option behind each request field, to name it when the station's version refuses one.
_OPTIONS = {"idToken.idToken": "--token", "idToken": "--token-type",
            "customerIdentifier": "--customer-id", "customerCertificate": "--certificate-hash"}


def _hex(text: str) -> bool:
    return bool(text) and all(c in string.hexdigits for c in text)


def _certificate(text: str | None) -> dict[str, str] | None:
    if text is None:
        return None
    parts = text.split(":")
    if len(parts) != 4 or not all(parts):
        raise usage(f"--certificate-hash: {shown(text)} is not {CERTIFICATE_SYNTAX}")
    algorithm, name_hash, key_hash, serial = parts
    if algorithm.upper() not in HASH_ALGORITHMS:
        raise usage(f"--certificate-hash: {shown(algorithm)} is not one of "
                    f"{', '.join(HASH_ALGORITHMS)}")
    for what, value, longest in (("ISSUER_NAME_HASH", name_hash, MAX_HASH),
                                 ("ISSUER_KEY_HASH", key_hash, MAX_HASH),
                                 ("SERIAL", serial, MAX_SERIAL)):
        if not _hex(value) or len(value) > longest:
            raise usage(f"--certificate-hash: {what} {shown(value)} is not hexadecimal of at "
                        f"most {longest} digits")
    return {"hashAlgorithm": algorithm.upper(), "issuerNameHash": name_hash.lower(),
            "issuerKeyHash": key_hash.lower(), "serialNumber": serial.lower()}


def _customer_id(text: str | None) -> str | None:
    if text is not None and not (0 < len(text) <= MAX_CUSTOMER_ID and text.isprintable()):
        raise usage(f"--customer-id: must be 1 to {MAX_CUSTOMER_ID} printable characters")
    return text


def customer_info(
    station_id: StationId,
    token: Annotated[str | None, typer.Option(
        "--token", metavar="ID_TOKEN", show_default=False,
        help="The customer's idToken.")] = None,
    token_type: Annotated[str, typer.Option(
        "--token-type", help="The idToken's type (ISO14443, eMAID, Central, ...).")
    ] = "ISO14443",
    customer_id: Annotated[str | None, typer.Option(
        "--customer-id", metavar="ID", show_default=False,
        help="A customer identifier the station knows.")] = None,
    certificate_hash: Annotated[str | None, typer.Option(
        "--certificate-hash", metavar=CERTIFICATE_SYNTAX, show_default=False,
        help="The customer's certificate (ISO 15118).")] = None,
    clear: Annotated[bool, typer.Option(
        "--clear", help="Have the station delete what it holds about the customer.")] = False,
    report: Annotated[bool, typer.Option(
        "--report", help="Have the station report it (the default without --clear).")] = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Ask a station what it holds about a customer, or have it cleared (CustomerInformation).

    The NotifyCustomerInformation parts the station sends are printed joined. With --clear
    the data is deleted (add --report to see it first). Name the customer with exactly one
    of --token, --customer-id, --certificate-hash.
    """
    if token is not None:
        check_token(token, "--token")
    check_type(token_type, "--token-type")
    customer = Customer(id_token=token, id_token_type=token_type,
                        customer_identifier=_customer_id(customer_id),
                        certificate=_certificate(certificate_hash))
    if customer.problem() is not None:
        raise usage("--token / --customer-id / --certificate-hash: give exactly one")
    wanted_report = report or not clear
    result = with_operations(database_url, data_dir, lambda ops: ops_customer.customer_information(
        ops, station_id, customer, report=wanted_report, clear=clear, timeout=timeout))
    check(result.outcome, "CustomerInformation", station_id, _OPTIONS)
    request = result.request
    out: dict[str, Any] = {"request_id": result.request_id,
                           "status": result.outcome.station_status,
                           "report": wanted_report, "clear": clear}
    if request is not None and wanted_report:
        out |= {"complete": request.complete, "parts": request.parts, "data": request.data}
    if json_out:
        print_json(out)
    else:
        typer.echo(f"request {result.request_id}: {result.outcome.describe()}"
                   + (", cleared" if clear else ""))
        if wanted_report and request is not None:
            typer.echo(request.data if request.data else "(no data reported)")
    if wanted_report and (request is None or not request.complete):
        raise CliError(f"CustomerInformation to {shown(station_id)}: not every part of the report"
                       " arrived within --timeout", ExitCode.TIMEOUT)
