"""``csms stations set-boot``: the boot status a station gets (B02), and the default for new
stations."""

from __future__ import annotations

from typing import Annotated

import asyncpg
import typer

from csms.cli.base import DatabaseUrlOption, DataDirOption, JsonOption, with_store_url
from csms.cli.errors import not_found, shown, usage
from csms.cli.output import print_json
from csms.operations import Operations
from csms.operations.boot import BootChange, Effect, set_boot_status
from csms.store import boot
from csms.store.base import StationNotFound
from csms.store.boot import REGISTRATION_STATUSES

STATUS_METAVAR = "|".join(REGISTRATION_STATUSES)


def registration_status(option: str, text: str) -> str:
    """``text`` as a RegistrationStatus (any case); a usage error naming ``option``."""
    for status in REGISTRATION_STATUSES:
        if text.lower() == status.lower():
            return status
    raise usage(f"{option}: {shown(text)} is not one of {', '.join(REGISTRATION_STATUSES)}")


def set_boot(
    station_id: Annotated[str | None, typer.Argument(
        metavar="[ID]", help="The station (with --status).", show_default=False)] = None,
    status: Annotated[str | None, typer.Option(
        "--status", metavar=STATUS_METAVAR,
        help="What the station's next BootNotification is answered.", show_default=False)] = None,
    default: Annotated[str | None, typer.Option(
        "--default", metavar=STATUS_METAVAR,
        help="What stations that have not booted yet are answered at their first "
             "BootNotification (they keep it until it is changed with --status).",
        show_default=False)] = None,
    trigger: Annotated[bool, typer.Option(
        "--trigger/--no-trigger",
        help="Ask a connected station waiting in Pending or Rejected to boot again now "
             "(TriggerMessage BootNotification) instead of after its retry interval.")] = True,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=0.1, max=3600, help="Seconds to wait for the trigger's answer.")] = 10.0,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Set the boot status of a station (ID --status) or of new stations (--default).

    A Pending station may be provisioned (get-variables, set-variables, get-base-report)
    and is accepted at its next BootNotification once set to Accepted.
    """
    if default is not None:
        if station_id is not None or status is not None:
            raise usage("--default: sets the default for new stations; give it without ID "
                        "and --status")
        chosen = registration_status("--default", default)
        with_store_url(database_url, data_dir,
                       lambda pool, _url: boot.set_default_status(pool, chosen))
        if json_out:
            print_json({"default": chosen})
        else:
            typer.echo(f"new stations: {chosen} at their first BootNotification")
        return
    wanted = None if status is None else registration_status("--status", status)
    if station_id is None or wanted is None:
        raise usage("ID --status: give a station and its boot status (or --default STATUS)")

    async def go(pool: asyncpg.Pool, url: str) -> BootChange:
        async with Operations(pool, url) as ops:
            try:
                return await set_boot_status(ops, pool, station_id, wanted, trigger=trigger,
                                             timeout=timeout)
            except StationNotFound:
                raise not_found(f"unknown station {shown(station_id)}") from None

    change = with_store_url(database_url, data_dir, go)
    if json_out:
        print_json({**vars(change.state), "effect": change.effect,
                    "trigger": None if change.trigger is None else {
                        "status": change.trigger.status,
                        "reason": change.trigger.reason}})
        return
    typer.echo(_describe(change))


def _describe(change: BootChange) -> str:
    state = change.state
    head = f"{state.station_id}: {state.registration_status}"
    if change.effect is Effect.NOW:
        return f"{head}; BootNotification triggered, the station boots again now"
    if change.effect is Effect.UNCHANGED:
        return f"{head}; its last BootNotification got this status already"
    last = f"last boot: {state.boot_status}" if state.boot_status else "it has not booted yet"
    note = "" if change.trigger is None else f"; the trigger failed: {change.trigger.describe()}"
    return f"{head} from its next BootNotification ({last}{note})"
