"""``csms firmware``: firmware update campaigns over many stations and their progress (L01,
L02). Thin over :mod:`csms.operations.firmware`."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from csms.cli.base import DatabaseUrlOption, DataDirOption, JsonOption, with_store
from csms.cli.errors import CliError, ExitCode, not_found, shown, usage
from csms.cli.operations import (
    DEFAULT_TIMEOUT,
    QueueForOption,
    RetriesOption,
    RetryIntervalOption,
    TimeoutOption,
    exit_code,
    failure,
    location_option,
    queue_for_option,
    with_operations,
)
from csms.cli.output import print_json, print_table
from csms.cli.times import time_option
from csms.operations import Status
from csms.operations import firmware as ops_firmware
from csms.operations.firmware import CampaignResult, FirmwareRequest, UpdateView
from csms.store import firmware, stations

app = typer.Typer(help="Update station firmware in campaigns and follow their progress.",
                  no_args_is_help=True)

MAX_INT = 2**31 - 1
#: FirmwareType limits (OCPP 2.0.1 and 2.1).
MAX_LOCATION, MAX_SIGNATURE, MAX_CERTIFICATE = 512, 800, 5500


#: The option behind each UpdateFirmware field, to name it when a station's version refuses one.
_OPTIONS = {"firmware.location": "--location", "firmware.retrieveDateTime": "--retrieve-at",
            "firmware.installDateTime": "--install-at", "firmware.signature": "--signature",
            "firmware.signingCertificate": "--signing-certificate", "retries": "--retries",
            "retryInterval": "--retry-interval"}


def _certificate(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        text = path.read_text(encoding="ascii")
    except OSError as exc:
        raise usage(f"--signing-certificate: cannot read {path}: "
                    f"{exc.strerror or type(exc).__name__}") from None
    except UnicodeDecodeError:
        raise usage(f"--signing-certificate: {path} is not a PEM certificate") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise usage(f"--signing-certificate: {path} is not a PEM certificate")
    if len(text) > MAX_CERTIFICATE:
        raise usage(f"--signing-certificate: longer than {MAX_CERTIFICATE} characters")
    return text


def _request(location: str, retrieve_at: str | None, install_at: str | None,
             signature: str | None, certificate: Path | None, retries: int | None,
             retry_interval: int | None) -> FirmwareRequest:
    location_option("--location", location, MAX_LOCATION)
    if signature is not None:
        if not 0 < len(signature) <= MAX_SIGNATURE:
            raise usage(f"--signature: give 1 to {MAX_SIGNATURE} characters")
        try:
            base64.b64decode(signature, validate=True)
        except ValueError:
            raise usage(f"--signature: {shown(signature)} is not Base64") from None
    if (signature is None) != (certificate is None):
        raise usage("--signature and --signing-certificate go together (a signed update)")
    retrieve = time_option("--retrieve-at", retrieve_at) or datetime.now().astimezone()
    install = time_option("--install-at", install_at)
    if install is not None and install < retrieve:
        raise usage("--install-at: must not be before --retrieve-at")
    return FirmwareRequest(location, retrieve, install, signature, _certificate(certificate),
                           retries, retry_interval)


def _sent_rows(result: CampaignResult) -> list[dict[str, Any]]:
    return [{"station": s.station_id, "request_id": s.request_id,
             "outcome": s.outcome.status.value,
             "answer": s.outcome.station_status, "reason": s.outcome.reason}
            for s in result.stations]


@app.command("update")
def update(
    station_ids: Annotated[list[str], typer.Argument(metavar="ID...",
                                                     help="The stations to update.")],
    location: Annotated[str, typer.Option("--location", metavar="URL",
                                          help="Where the stations download the firmware.")],
    retrieve_at: Annotated[str | None, typer.Option(
        "--retrieve-at", metavar="TIME", show_default=False,
        help="When to download (ISO 8601, now, +2h; default now).")] = None,
    install_at: Annotated[str | None, typer.Option(
        "--install-at", metavar="TIME", show_default=False,
        help="When to install (default: once downloaded).")] = None,
    signature: Annotated[str | None, typer.Option(
        "--signature", metavar="BASE64", show_default=False,
        help="The firmware's signature (a secure update, L01).")] = None,
    signing_certificate: Annotated[Path | None, typer.Option(
        "--signing-certificate", metavar="FILE", show_default=False, dir_okay=False,
        help="PEM certificate the firmware was signed with (with --signature).")] = None,
    retries: RetriesOption = None,
    retry_interval: RetryIntervalOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    queue_for: QueueForOption = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Start a firmware campaign: UpdateFirmware to each station, each with its own requestId.

    Offline stations are reported and left out, unless --queue-for queues the update for
    them. Follow the campaign with 'csms firmware status --campaign N'.
    """
    seen: set[str] = set()
    for station_id in station_ids:
        if station_id in seen:
            raise usage(f"ID: {shown(station_id)} is given twice")
        seen.add(station_id)
    request = _request(location, retrieve_at, install_at, signature, signing_certificate,
                       retries, retry_interval)
    queue = queue_for_option(queue_for)
    result = with_operations(database_url, data_dir, lambda ops: ops_firmware.update_firmware(
        ops, station_ids, request, timeout=timeout, queue_for=queue))
    if result.campaign is None:
        first = result.stations[0]
        raise failure(first.outcome, "UpdateFirmware", first.station_id, _OPTIONS,
                      queueable=True)
    campaign = result.campaign
    if json_out:
        print_json({"campaign": _campaign_fields(campaign), "stations": _sent_rows(result)})
    else:
        typer.echo(f"campaign {campaign.id}: UpdateFirmware sent to {len(result.stations)}"
                   f" station(s)")
        print_table(_sent_rows(result), ["station", "request_id", "outcome", "answer", "reason"],
                    empty="(no stations)")
    _end(result)


def _end(result: CampaignResult) -> None:
    """Exit 0 when every station accepted; else with the code of the first that did not (a
    station still queued: QUEUED)."""
    campaign = result.campaign
    assert campaign is not None
    if result.failed:
        notes = "; ".join(f"{shown(s.station_id)} {s.outcome.describe()}"
                          for s in result.failed)
        raise CliError(f"campaign {campaign.id}: {len(result.failed)} of {len(result.stations)}"
                       f" station(s) did not accept the update: {notes}",
                       exit_code(result.failed[0].outcome))
    queued = [s for s in result.stations if s.outcome.status is Status.QUEUED]
    if queued:
        raise CliError(f"campaign {campaign.id}: {len(queued)} station(s) offline; the update"
                       " waits for them to reconnect", ExitCode.QUEUED, label="queued")


def _view_row(view: UpdateView) -> dict[str, Any]:
    u = view.update
    return {"station": u.station_id, "campaign": u.campaign_id, "request_id": u.request_id,
            "phase": view.phase.value, "answer": u.answer, "status": u.status,
            "status_at": u.status_at, "firmware_before": u.firmware_before,
            "firmware_after": u.firmware_after, "booted_at": u.booted_at,
            "boot_reason": u.boot_reason, "reason": u.answer_reason,
            "canceled_by": u.canceled_by}


_STATUS_COLUMNS = ["station", "campaign", "request_id", "phase", "answer", "status",
                   "status_at", "firmware_before", "firmware_after"]


@app.command("status")
def status(
    campaign_id: Annotated[int | None, typer.Option(
        "--campaign", min=1, metavar="N", show_default=False,
        help="Only this campaign's stations.")] = None,
    station_id: Annotated[str | None, typer.Option(
        "--station", metavar="ID", show_default=False,
        help="Only this station: every update it had, with its status history.")] = None,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Where each station's update stands: the station's answer, its latest status and when,
    and the firmware version of its next BootNotification.

    Without options, each station's latest update.
    """

    async def go(pool: Any) -> list[UpdateView]:
        if campaign_id is not None and await firmware.get_campaign(pool, campaign_id) is None:
            raise not_found(f"--campaign: no campaign {campaign_id}")
        if station_id is not None and await stations.get_station(pool, station_id) is None:
            raise not_found(f"--station: unknown station {shown(station_id)}")
        return await ops_firmware.update_status(pool, campaign_id=campaign_id,
                                                station_id=station_id,
                                                history=station_id is not None)

    views = with_store(database_url, data_dir, go)
    if json_out:
        print_json([_view_row(v) | ({"history": v.history} if station_id else {})
                    for v in views])
        return
    print_table([_view_row(v) for v in views], _STATUS_COLUMNS, empty="(no firmware updates)")
    for view in views if station_id else []:
        typer.echo(f"request {view.update.request_id}:")
        print_table([{"status": h.status, "received_at": h.received_at, "info": h.status_info}
                     for h in view.history], ["status", "received_at", "info"],
                    empty="  (no status reported)")


@app.command("campaigns")
def campaigns(
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000,
                                       help="How many of the latest campaigns.")] = 100,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List the latest firmware campaigns with their stations counted by phase."""
    summaries = with_store(database_url, data_dir,
                           lambda pool: ops_firmware.campaign_summaries(pool, limit))
    if json_out:
        print_json([{**_campaign_fields(s.campaign), "stations": s.stations,
                     "phases": s.phases} for s in summaries])
        return
    rows = [{"id": s.campaign.id, "created_at": s.campaign.created_at,
             "location": s.campaign.location, "retrieve_at": s.campaign.retrieve_at,
             "install_at": s.campaign.install_at, "signed": s.campaign.signature is not None,
             "stations": s.stations,
             "phases": ", ".join(f"{k} {v}" for k, v in s.phases.items())} for s in summaries]
    print_table(rows, ["id", "created_at", "location", "retrieve_at", "install_at", "signed",
                       "stations", "phases"], empty="(no campaigns)")


def _campaign_fields(campaign: firmware.Campaign) -> dict[str, Any]:
    """A campaign for JSON, without the certificate's full text."""
    return {"id": campaign.id, "created_at": campaign.created_at,
            "location": campaign.location, "retrieve_at": campaign.retrieve_at,
            "install_at": campaign.install_at, "signed": campaign.signature is not None,
            "retries": campaign.retries, "retry_interval": campaign.retry_interval,
            "queue_until": campaign.queue_until}
