"""``csms profiles``: set, clear, list and compose a station's charging profiles.

Thin over :mod:`csms.operations.profiles`: every request is checked (K01 rules, the station's
device-model limits, the profiles the CSMS believes installed) before it is sent, and a refused
one fails with one line naming the rule, exit status 2.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import typer

from csms.cli.base import (
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    StationId,
)
from csms.cli.calls import DEFAULT_TIMEOUT, TimeoutOption
from csms.cli.errors import CliError, ExitCode, not_found, shown, usage
from csms.cli.operations import with_operations
from csms.cli.output import print_json, print_table
from csms.cli.times import time_option
from csms.operations import Operations, Outcome, Status
from csms.operations import profiles as ops_profiles
from csms.smartcharging import CompositeSchedule, InstalledProfiles

MAX_INT = 2**31 - 1
PURPOSES = ("TxProfile", "TxDefaultProfile", "ChargingStationMaxProfile")
CLEAR_PURPOSES = (*PURPOSES, "PriorityCharging", "LocalGeneration")

app = typer.Typer(help="Set, clear, list and compose charging profiles.", no_args_is_help=True)

EvseRequired = Annotated[int, typer.Option("--evse", min=0, max=MAX_INT, help="EVSE id.")]
EvseFilter = Annotated[int | None, typer.Option("--evse", min=0, max=MAX_INT,
                                                help="Only this EVSE.")]
StackOption = Annotated[int | None, typer.Option("--stack-level", min=0, max=MAX_INT,
                                                 help="Stack level.", show_default=False)]

#: How each outcome that is not accepted ends the command; the rest (CALLERROR, and a
#: station's Rejected) share CALL_ERROR: the station said no.
_EXIT = {Status.INVALID: ExitCode.USAGE, Status.OFFLINE: ExitCode.OFFLINE,
         Status.TIMEOUT: ExitCode.TIMEOUT, Status.EXPIRED: ExitCode.EXPIRED,
         Status.DISCONNECTED: ExitCode.DISCONNECTED}
#: What an outcome without a station answer is called in output.
_LABELS = {Status.INVALID: "Invalid", Status.UNKNOWN_STATION: "UnknownStation",
           Status.OFFLINE: "Offline", Status.CALLERROR: "CallError", Status.TIMEOUT: "Timeout",
           Status.EXPIRED: "Expired", Status.DISCONNECTED: "Disconnected",
           Status.QUEUED: "Queued"}


def _word(outcome: Outcome) -> str:
    """The station's own status word, or what stopped the call."""
    return outcome.station_status or _LABELS.get(outcome.status, outcome.status.value)


def _fail(outcome: Outcome) -> CliError:
    word = _word(outcome)
    label = "rejected by the station" if word == "Rejected" else word
    return CliError(f"{label}: {outcome.reason or 'no reason given'}",
                    _EXIT.get(outcome.status, ExitCode.CALL_ERROR))


def _known(station_id: str, outcome: Outcome) -> None:
    """Fail with NOT_FOUND when the outcome says the station is not registered."""
    if outcome.status is Status.UNKNOWN_STATION:
        raise not_found(f"unknown station {shown(station_id)}")


def _json(outcome: ops_profiles.ProfileOutcome) -> dict[str, Any]:
    return {"status": _word(outcome), "accepted": outcome.ok, "reason": outcome.reason,
            "profile_id": outcome.profile_id, "payload": outcome.request,
            "command_ids": list(outcome.command_ids)}


def _finish(station_id: str, outcome: ops_profiles.ProfileOutcome, json_out: bool) -> None:
    _known(station_id, outcome)
    if json_out:
        print_json(_json(outcome))
    if not outcome.ok:
        raise _fail(outcome)
    if not json_out:
        typer.echo(f"{_word(outcome)}: profile {outcome.profile_id}")


@app.command("set")
def set_profile(
    station_id: StationId,
    evse: EvseRequired,
    charge_kw: Annotated[float | None, typer.Option(
        "--charge-kw", min=0, max=1_000_000, help="Charge at most this many kW (0 pauses).",
        show_default=False)] = None,
    discharge_kw: Annotated[float | None, typer.Option(
        "--discharge-kw", min=0, max=1_000_000, help="Discharge this many kW.",
        show_default=False)] = None,
    start: Annotated[str | None, typer.Option(
        "--from", metavar="TIME", help="Start (ISO 8601, now, +10m; default now).",
        show_default=False)] = None,
    until: Annotated[str | None, typer.Option(
        "--until", metavar="TIME", help="End (default: open-ended).", show_default=False)] = None,
    purpose: Annotated[str, typer.Option(
        "--purpose", metavar="|".join(PURPOSES), help="Profile purpose.")] = "TxProfile",
    stack_level: StackOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Send a charge or discharge profile (SetChargingProfile) in the station's dialect."""
    if (charge_kw is None) == (discharge_kw is None):
        raise usage("--charge-kw / --discharge-kw: give exactly one")
    if purpose not in PURPOSES:
        raise usage(f"--purpose: {shown(purpose)} is not one of {', '.join(PURPOSES)}")
    if discharge_kw is not None and discharge_kw <= 0:
        raise usage("--discharge-kw: must be more than 0")
    begin = time_option("--from", start) or datetime.now().astimezone()
    end = time_option("--until", until)
    if end is not None and end <= begin:
        raise usage("--until: must be later than --from")
    level = ops_profiles.DISPATCH_STACK_LEVEL if stack_level is None else stack_level
    watts = (discharge_kw if discharge_kw is not None else charge_kw or 0.0) * 1000.0

    async def go(ops: Operations) -> ops_profiles.ProfileOutcome:
        return await ops_profiles.set_power(ops, station_id, evse, watts, begin, end,
                                            discharging=discharge_kw is not None,
                                            stack_level=level, purpose=purpose,
                                            timeout=timeout)

    _finish(station_id, with_operations(database_url, data_dir, go), json_out)


@app.command("clear")
def clear(
    station_id: StationId,
    profile_id: Annotated[int | None, typer.Option(
        "--profile-id", min=0, max=MAX_INT, help="Clear only this profile.",
        show_default=False)] = None,
    evse: EvseFilter = None,
    purpose: Annotated[str | None, typer.Option(
        "--purpose", metavar="PURPOSE", help="Only profiles of this purpose.",
        show_default=False)] = None,
    stack_level: StackOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Clear profiles (ClearChargingProfile): one by id, or all matching the criteria."""
    if purpose is not None and purpose not in CLEAR_PURPOSES:
        raise usage(f"--purpose: {shown(purpose)} is not one of {', '.join(CLEAR_PURPOSES)}")

    async def go(ops: Operations) -> ops_profiles.ProfileOutcome:
        return await ops_profiles.clear_profiles(ops, station_id, profile_id=profile_id,
                                                 evse_id=evse, purpose=purpose,
                                                 stack_level=stack_level, timeout=timeout)

    outcome = with_operations(database_url, data_dir, go)
    _known(station_id, outcome)
    if json_out:
        print_json(_json(outcome))
    if not outcome.ok:
        raise _fail(outcome)
    if not json_out:
        typer.echo("Unknown: no matching profile" if outcome.station_status == "Unknown"
                   else "Accepted")


def _rows(profiles: InstalledProfiles) -> list[dict[str, Any]]:
    rows = []
    for entry in profiles:
        p = entry.profile
        first = p.schedule.periods[0]
        rows.append({"id": p.id, "evse": entry.evse_id, "purpose": p.purpose,
                     "stack": p.stack_level, "kind": p.kind, "source": entry.source,
                     "transaction": p.transaction_id, "start": p.schedule.start_schedule,
                     "duration": p.schedule.duration, "unit": p.schedule.charging_rate_unit,
                     "first_limit": first.limit, "setpoint": first.setpoint})
    return rows


_COLUMNS = ["id", "evse", "purpose", "stack", "kind", "source", "transaction", "start",
            "duration", "unit", "first_limit", "setpoint"]


@app.command("list")
def list_profiles(
    station_id: StationId,
    evse: EvseFilter = None,
    reconcile: Annotated[bool, typer.Option(
        "--reconcile", help="Adopt what the station reports as the CSMS's record.")] = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show what the CSMS believes is installed and what the station reports, and differences.

    The station is asked with GetChargingProfiles; --reconcile makes its answer the record.
    """
    if reconcile and evse is not None:
        raise usage("--reconcile: reconciles the whole station; leave out --evse")

    async def go(ops: Operations) -> ops_profiles.ProfilesReport:
        return await ops_profiles.station_profiles(ops, station_id, evse_id=evse,
                                                   reconcile=reconcile, timeout=timeout)

    report = with_operations(database_url, data_dir, go)
    _known(station_id, report.outcome)
    if json_out:
        print_json({"status": _word(report.outcome), "reason": report.outcome.reason,
                    "believed": _rows(report.believed),
                    "reported": None if report.reported is None else _rows(report.reported),
                    "differences": [str(d) for d in report.differences],
                    "reconciled": report.reconciled})
    else:
        _print_against_station("Believed installed:", _rows(report.believed), "(none)",
                               None if report.reported is None else _rows(report.reported),
                               _COLUMNS, report)
        if report.reported is not None and report.reconciled:
            typer.echo("reconciled: the record now holds what the station reported")
    if report.reported is None:
        raise _fail(report.outcome)


def _print_against_station(title: str, ours: list[dict[str, Any]], empty: str,
                           theirs: list[dict[str, Any]] | None, columns: list[str],
                           result: ops_profiles.ProfilesReport
                           | ops_profiles.CompositeComparison,
                           missing: str | None = None) -> None:
    """The CSMS's view under ``title``, then the station's (or ``missing``, or why it could
    not be had) and where the two differ."""
    typer.echo(title)
    print_table(ours, columns, empty=empty)
    typer.echo("Reported by the station:")
    if theirs is None:
        typer.echo(missing or f"(not available: {_word(result.outcome)}: "
                   f"{result.outcome.reason or 'no reason given'})")
        return
    print_table(theirs, columns, empty="(none)")
    for difference in result.differences:
        typer.echo(f"differs: {difference}")


def _periods(schedule: CompositeSchedule | None) -> list[dict[str, Any]]:
    if schedule is None:
        return []
    return [{"start": schedule.schedule_start + timedelta(seconds=p.start_period),
             "offset_s": p.start_period, "limit": p.limit, "setpoint": p.setpoint,
             "discharge_limit": p.discharge_limit, "mode": p.operation_mode}
            for p in schedule.periods]


@app.command("composite")
def composite(
    station_id: StationId,
    evse: EvseRequired,
    duration: Annotated[int, typer.Option("--duration", min=1, max=MAX_INT,
                                          help="Seconds to cover.")],
    unit: Annotated[str, typer.Option("--unit", metavar="W|A", help="Rate unit.")] = "W",
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show the station's composite schedule next to the one the CSMS expects.

    The station is asked with GetCompositeSchedule; the expected schedule is computed from the
    profiles the CSMS believes installed.
    """
    if unit not in ("W", "A"):
        raise usage(f"--unit: {shown(unit)} is not W or A")

    async def go(ops: Operations) -> ops_profiles.CompositeComparison:
        return await ops_profiles.compare_composite(ops, station_id, evse, duration,
                                                    rate_unit=unit, timeout=timeout)

    result = with_operations(database_url, data_dir, go)
    _known(station_id, result.outcome)
    columns = ["start", "offset_s", "limit", "setpoint", "discharge_limit", "mode"]
    # A station may accept the request and still send no schedule (real chargers do).
    no_schedule = result.reported is None and result.outcome.ok
    if json_out:
        print_json({"status": _word(result.outcome), "reason": result.outcome.reason,
                    "expected": _periods(result.expected), "reported": _periods(result.reported),
                    "differences": result.differences})
    else:
        missing = (f"(none: the station reports no schedule for EVSE {evse} over the next "
                   f"{duration} s)" if no_schedule else None)
        _print_against_station("Expected:", _periods(result.expected), "(nothing expected)",
                               None if result.reported is None else _periods(result.reported),
                               columns, result, missing)
    if result.reported is None and not no_schedule:
        raise _fail(result.outcome)
