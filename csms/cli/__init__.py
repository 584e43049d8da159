"""The ``csms`` operator command line.

Every command works against the CSMS database (``--database-url`` or the embedded PostgreSQL in
``--data-dir``); commands for stations travel through it to whichever server process holds the
station's socket. Failures print one line on stderr and exit with a code of
:class:`csms.cli.errors.ExitCode`.
"""

from __future__ import annotations

import typer

from csms.cli import (
    api,
    certs,
    display,
    drivers,
    events,
    firmware,
    fleet,
    locallist,
    logs,
    meter_data,
    meter_values,
    monitoring,
    password_key,
    programs,
    reservations,
    sites,
    station_commands,
    stations,
    tariffs,
    tokens,
    transactions,
)
from csms.cli.base import CsmsGroup
from csms.cli.calls import call
from csms.cli.customer_info import customer_info
from csms.cli.demo import demo
from csms.cli.errors import STATION_COMMAND_EXITS, exit_status_help
from csms.cli.profiles import app as profiles_app
from csms.cli.serve import serve

app = typer.Typer(
    cls=CsmsGroup,
    name="csms",
    help="Operate the V2G charging-station management system (OCPP 2.0.1 / 2.1).",
    epilog=exit_status_help(),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(stations.app, name="stations", rich_help_panel="Data")
app.add_typer(tokens.app, name="tokens", rich_help_panel="Data")
app.add_typer(transactions.app, name="transactions", rich_help_panel="Data")
app.add_typer(meter_values.app, name="meter-values", rich_help_panel="Data")
app.add_typer(meter_data.app, name="data", rich_help_panel="Data")
app.add_typer(tariffs.app, name="tariffs", rich_help_panel="Data")
app.command("call", rich_help_panel=station_commands.PANEL,
            epilog=exit_status_help(STATION_COMMAND_EXITS))(call)
station_commands.register(app)
app.add_typer(profiles_app, name="profiles", rich_help_panel=station_commands.PANEL)
app.add_typer(firmware.app, name="firmware", rich_help_panel=station_commands.PANEL)
app.add_typer(logs.app, name="logs", rich_help_panel=station_commands.PANEL)
app.add_typer(monitoring.app, name="monitoring", rich_help_panel=station_commands.PANEL)
app.command("customer-info", rich_help_panel=station_commands.PANEL)(customer_info)
stations.app.command("events")(monitoring.station_events)
app.add_typer(display.app, name="display", rich_help_panel=station_commands.PANEL)
app.add_typer(locallist.app, name="local-list", rich_help_panel=station_commands.PANEL)
app.add_typer(reservations.app, name="reservations", rich_help_panel=station_commands.PANEL)
app.add_typer(certs.app, name="certs", rich_help_panel="Server")
app.add_typer(password_key.app, name="password-key", rich_help_panel="Server")
app.add_typer(programs.app, name="programs", rich_help_panel="Grid")
app.add_typer(events.app, name="events", rich_help_panel="Grid")
app.add_typer(fleet.app, name="fleet", rich_help_panel="Grid")
app.add_typer(drivers.app, name="drivers", rich_help_panel="Grid")
app.add_typer(sites.app, name="sites", rich_help_panel="Grid")

app.command("serve", rich_help_panel="Server")(serve)
app.command("demo", rich_help_panel="Server")(demo)
api.register(app)


def main() -> None:
    """Entry point of the ``csms`` console script."""
    app(prog_name="csms")
