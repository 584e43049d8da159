"""``csms certs``: a development PKI for security profiles 2 and 3, and certificate
management (blocks A and M): station certificates (:mod:`csms.cli.certs_station`) and the
CSMS's own certificate settings (:mod:`csms.cli.certs_policy`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from csms.cli import certs_policy, certs_station
from csms.cli.errors import CliError, ExitCode, usage
from csms.security import pki

app = typer.Typer(help="Certificates: a development PKI, the CA that signs station "
                  "certificates, station certificates, contract certificate checks.",
                  no_args_is_help=True)

DirOption = Annotated[Path, typer.Option("--dir", help="Directory of the PKI files.")]


@app.command("init")
def init(
    directory: DirOption,
    force: Annotated[bool, typer.Option(help="Replace an existing CA.")] = False,
) -> None:
    """Write ca.pem, ca.key, server.pem and server.key (valid for 127.0.0.1 and localhost)."""
    if (directory / "ca.key").exists() and not force:
        raise CliError(f"--dir {directory}: a CA exists already (ca.key); --force replaces it "
                       "and invalidates every certificate it signed", ExitCode.CONFLICT)
    try:
        paths = pki.init_ca(directory, overwrite=force)
    except OSError as exc:
        raise usage(f"--dir {directory}: {exc.strerror or exc}") from None
    for path in paths.values():
        typer.echo(str(path))


@app.command("station")
def station(
    station_id: Annotated[str, typer.Argument(help="Station identity: the certificate's CN.")],
    directory: DirOption,
    days: Annotated[int, typer.Option(min=1, max=3650, help="Validity in days.")] = 825,
) -> None:
    """Write ID.pem and ID.key: a client certificate for security profile 3."""
    if not 0 < len(station_id) <= 48 or ":" in station_id or "/" in station_id:
        raise usage("STATION_ID: must be 1 to 48 characters, without a colon or a slash")
    if not (directory / "ca.key").exists():
        raise usage(f"--dir {directory}: no ca.key; run csms certs init --dir {directory} "
                    "first")
    try:
        files = pki.issue_station(directory, station_id, days=days)
    except (OSError, ValueError) as exc:
        raise usage(f"--dir {directory}: {getattr(exc, 'strerror', None) or exc}") from None
    typer.echo(str(files.certificate))
    typer.echo(str(files.key))


for _name, _command in {**certs_station.COMMANDS, **certs_policy.COMMANDS}.items():
    app.command(_name)(_command)
