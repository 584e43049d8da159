"""``csms monitoring``: variable monitors on stations (N02 to N06), and ``csms stations events``:
what the monitors reported (NotifyEvent, N07). Thin over :mod:`csms.operations.monitoring`."""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer

from csms.cli import payloads
from csms.cli.base import (
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    StationId,
    with_store,
)
from csms.cli.errors import CliError, ExitCode, shown, usage
from csms.cli.operations import (
    DEFAULT_TIMEOUT,
    TimeoutOption,
    check,
    unknown_station,
    with_operations,
)
from csms.cli.output import print_json, print_table
from csms.cli.times import time_option
from csms.operations import Outcome
from csms.operations import monitoring as ops_monitoring
from csms.operations.monitoring import (
    CRITERIA,
    MONITOR_TYPES,
    MONITORING_BASES,
    MonitoringReport,
    MonitorSpec,
)
from csms.store import diagnostics, stations

app = typer.Typer(help="Set, clear and report variable monitors on stations.",
                  no_args_is_help=True)

MAX_INT = 2**31 - 1


def _where(component: str, variable: str) -> payloads.VariableRef:
    try:
        return payloads.parse_variable(f"{component}.{variable}")
    except ValueError as exc:
        raise usage(f"--component / --variable: {exc}") from None


def _print_outcome(outcome: Outcome, json_out: bool, rows: list[dict[str, Any]] | None = None,
                   columns: list[str] | None = None) -> None:
    if json_out:
        print_json(outcome.response or {})
    elif rows is not None and columns is not None:
        print_table(rows, columns, empty="(no results)")
    else:
        typer.echo(outcome.describe())


def _name(component: dict[str, Any], variable: dict[str, Any]) -> str:
    name = component.get("name", "?")
    if component.get("instance"):
        name += ":" + component["instance"]
    evse = component.get("evse")
    if evse:
        name += f"@{evse.get('id')}"
        if evse.get("connectorId") is not None:
            name += f":{evse['connectorId']}"
    name += "." + variable.get("name", "?")
    if variable.get("instance"):
        name += ":" + variable["instance"]
    return name


@app.command("set")
def set_monitor(
    station_id: StationId,
    component: Annotated[str, typer.Option(
        "--component", metavar="NAME[:INSTANCE][@EVSE[:CONNECTOR]]",
        help="The component, e.g. EVSE@1 or TemperatureSensor.")],
    variable: Annotated[str, typer.Option(
        "--variable", metavar="NAME[:INSTANCE]", help="The variable, e.g. Power.")],
    monitor_type: Annotated[str, typer.Option(
        "--type", metavar="|".join(MONITOR_TYPES), help="What to watch for.")],
    value: Annotated[float, typer.Option(
        "--value", help="The threshold, the delta, or the period in seconds.")],
    severity: Annotated[int, typer.Option(
        "--severity", min=0, max=9, help="0 (Danger) to 9 (Debug).")],
    monitor_id: Annotated[int | None, typer.Option(
        "--id", min=0, max=MAX_INT, show_default=False,
        help="Replace this existing monitor.")] = None,
    transaction: Annotated[bool, typer.Option(
        "--transaction", help="Only while a transaction runs.")] = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Set a monitor on a variable (SetVariableMonitoring) and print the id the station gave
    it."""
    if monitor_type not in MONITOR_TYPES:
        raise usage(f"--type: {shown(monitor_type)} is not one of {', '.join(MONITOR_TYPES)}")
    if not math.isfinite(value):
        raise usage(f"--value: {value} is not a finite number")
    ref = _where(component, variable).to_wire()
    spec = MonitorSpec(ref["component"], ref["variable"], monitor_type, value, severity,
                       monitor_id, transaction)
    outcome = with_operations(database_url, data_dir, lambda ops: ops_monitoring.set_monitors(
        ops, station_id, [spec], timeout=timeout))
    check(outcome, "SetVariableMonitoring", station_id)
    results = (outcome.response or {}).get("setMonitoringResult", [])
    rows = [{"variable": _name(r["component"], r["variable"]), "id": r.get("id"),
             "type": r["type"], "severity": r["severity"], "status": r["status"],
             "reason": (r.get("statusInfo") or {}).get("reasonCode")} for r in results]
    _print_outcome(outcome, json_out, rows, ["variable", "id", "type", "severity", "status",
                                             "reason"])
    refused = [r for r in results if r["status"] != "Accepted"]
    if refused:
        info = refused[0].get("statusInfo") or {}
        reason = f" ({info['reasonCode']})" if info.get("reasonCode") else ""
        raise CliError(f"SetVariableMonitoring to {shown(station_id)}: the station did not "
                       f"accept the monitor: {refused[0]['status']}{reason}",
                       ExitCode.CALL_ERROR)


@app.command("base")
def base(
    station_id: StationId,
    monitoring_base: Annotated[str, typer.Argument(metavar="|".join(MONITORING_BASES),
                                                   help="Which monitors are active.")],
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Choose the station's monitoring base (SetMonitoringBase): All, FactoryDefault or
    HardWiredOnly."""
    if monitoring_base not in MONITORING_BASES:
        raise usage(f"BASE: {shown(monitoring_base)} is not one of "
                    f"{', '.join(MONITORING_BASES)}")
    outcome = with_operations(database_url, data_dir, lambda ops: ops_monitoring.set_base(
        ops, station_id, monitoring_base, timeout=timeout))
    check(outcome, "SetMonitoringBase", station_id)
    _print_outcome(outcome, json_out)


@app.command("level")
def level(
    station_id: StationId,
    severity: Annotated[int, typer.Argument(
        metavar="N", min=0, max=9,
        help="Report events of severity N and more severe (0 Danger .. 9 Debug).")],
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Set the station's monitoring level (SetMonitoringLevel)."""
    outcome = with_operations(database_url, data_dir, lambda ops: ops_monitoring.set_level(
        ops, station_id, severity, timeout=timeout))
    check(outcome, "SetMonitoringLevel", station_id)
    _print_outcome(outcome, json_out)


@app.command("clear")
def clear(
    station_id: StationId,
    monitor_ids: Annotated[list[int], typer.Argument(metavar="MONITOR_ID...", min=0,
                                                     max=MAX_INT, help="Monitors to remove.")],
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Remove monitors (ClearVariableMonitoring); long lists are split to the station's
    ItemsPerMessage limit."""
    outcome = with_operations(database_url, data_dir, lambda ops: ops_monitoring.clear_monitors(
        ops, station_id, monitor_ids, timeout=timeout))
    check(outcome, "ClearVariableMonitoring", station_id)
    results = (outcome.response or {}).get("clearMonitoringResult", [])
    rows = [{"id": r["id"], "status": r["status"],
             "reason": (r.get("statusInfo") or {}).get("reasonCode")} for r in results]
    _print_outcome(outcome, json_out, rows, ["id", "status", "reason"])


def _report_rows(report: MonitoringReport) -> list[dict[str, Any]]:
    rows = []
    for monitored in report.monitors:
        name = _stored_name(monitored)
        for m in monitored.monitors:
            rows.append({"variable": name, "id": m.get("id"),
                         "type": m.get("type"), "value": m.get("value"),
                         "severity": m.get("severity"), "transaction": m.get("transaction"),
                         "kind": m.get("eventNotificationType")})
    return rows


@app.command("report")
def report(
    station_id: StationId,
    criteria: Annotated[list[str] | None, typer.Option(
        "--criterion", metavar="|".join(CRITERIA), show_default=False,
        help="Only monitors of this kind (repeatable).")] = None,
    component: Annotated[str | None, typer.Option(
        "--component", metavar="NAME[:INSTANCE][@EVSE[:CONNECTOR]]", show_default=False,
        help="Only monitors of this component.")] = None,
    variable: Annotated[str | None, typer.Option(
        "--variable", metavar="NAME[:INSTANCE]", show_default=False,
        help="Only monitors of this variable (with --component).")] = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Ask the station for its monitors (GetMonitoringReport), wait for every
    NotifyMonitoringReport part (they are stored) and print them."""
    for criterion in criteria or []:
        if criterion not in CRITERIA:
            raise usage(f"--criterion: {shown(criterion)} is not one of {', '.join(CRITERIA)}")
    if variable is not None and component is None:
        raise usage("--variable: needs --component")
    selection: list[dict[str, Any]] = []
    if component is not None:
        ref = _where(component, "_" if variable is None else variable).to_wire()
        selection.append({"component": ref["component"]}
                         | ({"variable": ref["variable"]} if variable else {}))
    result = with_operations(database_url, data_dir, lambda ops: ops_monitoring.monitoring_report(
        ops, station_id, criteria=criteria or (), component_variables=selection,
        timeout=timeout))
    if result.outcome.station_status != "EmptyResultSet":
        check(result.outcome, "GetMonitoringReport", station_id)
    rows = _report_rows(result)
    if json_out:
        print_json({"request_id": result.request_id, "complete": result.complete,
                    "status": result.outcome.station_status, "monitors": rows})
    else:
        print_table(rows, ["variable", "id", "type", "value", "severity", "transaction", "kind"],
                    empty="(no monitors)")
    if not result.complete:
        raise CliError(f"GetMonitoringReport to {shown(station_id)}: not every part of report"
                       f" {result.request_id} arrived within --timeout", ExitCode.TIMEOUT)


def station_events(
    station_id: StationId,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="TIME", show_default=False,
        help="Only events at or after TIME (ISO 8601, -1h, ...).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000,
                                       help="At most this many, the latest.")] = 1000,
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List the events a station reported (NotifyEvent: monitors, alerts), oldest first."""
    start = time_option("--since", since)

    async def go(pool: Any) -> list[diagnostics.EventRecord]:
        if await stations.get_station(pool, station_id) is None:
            raise unknown_station(station_id)
        return await diagnostics.events(pool, station_id, since=start, limit=limit)

    events = with_store(database_url, data_dir, go)
    if json_out:
        print_json(events)
        return
    rows = [{"timestamp": e.timestamp, "event_id": e.event_id, "trigger": e.trigger,
             "variable": _stored_name(e),
             "value": e.actual_value, "cleared": e.cleared, "monitor": e.variable_monitoring_id,
             "kind": e.event_notification_type, "tech_code": e.tech_code} for e in events]
    print_table(rows, ["timestamp", "event_id", "trigger", "variable", "value", "cleared",
                       "monitor", "kind", "tech_code"], empty="(no events)")


def _stored_name(row: Any) -> str:
    """The COMPONENT[:INSTANCE][@EVSE[:CONNECTOR]].VARIABLE[:INSTANCE] name of a stored event
    or monitored variable (flattened component and variable columns)."""
    component: dict[str, Any] = {"name": row.component_name}
    if row.component_instance:
        component["instance"] = row.component_instance
    if row.evse_id is not None:
        component["evse"] = {"id": row.evse_id}
        if row.connector_id is not None:
            component["evse"]["connectorId"] = row.connector_id
    variable: dict[str, Any] = {"name": row.variable_name}
    if row.variable_instance:
        variable["instance"] = row.variable_instance
    return _name(component, variable)
