"""``csms-sim``: run a fleet of simulated bidirectional charging stations against a CSMS."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import structlog
import typer

from simulators.scenario import Scenario, ScenarioError, load_scenario
from simulators.simulated_fleet import (
    AUTHORIZATION_MODES,
    Fleet,
    FleetOptions,
    build_configs,
    station_ids,
    summary_line,
)
from simulators.stationconfig import ENERGY_UNITS

main = typer.Typer(help="Simulated OCPP 2.0.1 / 2.1 bidirectional charging stations.",
                   no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
              "error": logging.ERROR}


def _fail(argument: str, message: str) -> typer.Exit:
    typer.echo(f"csms-sim: error: {argument}: {message}", err=True)
    return typer.Exit(2)


@main.callback()
def _root() -> None:
    """Simulated OCPP 2.0.1 / 2.1 bidirectional charging stations."""


@main.command()
def run(
    url: Annotated[str, typer.Option(help="CSMS websocket endpoint, e.g. ws://127.0.0.1:9000/ocpp;"
                                          " each station appends /<its id>.")],
    stations: Annotated[int, typer.Option(help="Number of stations to run.")] = 1,
    id_prefix: Annotated[str, typer.Option(help="Station ids are this prefix + 1..N.")] = "SIM",
    password: Annotated[str | None, typer.Option(
        help="HTTP Basic password (security profile 1) shared by every station.")] = None,
    ocpp: Annotated[str, typer.Option(help="OCPP version: 2.0.1 or 2.1.")] = "2.0.1",
    scenario: Annotated[Path | None, typer.Option(
        help="TOML scenario file (stations, EV mix, SoC, floors, arrivals, faults).")] = None,
    duration: Annotated[float | None, typer.Option(
        help="Stop after this many seconds (default: run until interrupted).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for every random choice (cars, faults).")] = 0,
    summary_json: Annotated[Path | None, typer.Option(
        help="Write the final summary as JSON to this file.")] = None,
    interval: Annotated[float, typer.Option(
        help="Seconds between live summary lines.")] = 5.0,
    auth: Annotated[str, typer.Option(
        help="none: transactions start without authorization; rfid: drivers present the token "
             "TOK-<station id>, which the CSMS must know.")] = "none",
    ca: Annotated[Path | None, typer.Option(
        help="wss://: the CA certificate to trust (PEM), e.g. the ca.pem of csms certs init.")
    ] = None,
    cert_dir: Annotated[Path | None, typer.Option(
        help="Security profile 3: directory with <id>.pem and <id>.key for every station "
             "(csms certs station <id>).")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
    energy_unit: Annotated[str, typer.Option(
        help="Units of the energy and power readings: Wh (Wh and W) or kWh (kWh and kW, as "
             "much field firmware sends them).")] = "Wh",
) -> None:
    """Run N stations in this process, each with a LEAF plugged in unless a scenario says
    otherwise, printing a live summary line; Ctrl-C or --duration ends the run."""
    if not url.startswith(("ws://", "wss://")):
        raise _fail("--url", f"must start with ws:// or wss://, got {url!r}")
    if stations < 1:
        raise _fail("--stations", f"must be at least 1, got {stations}")
    if ocpp not in ("2.0.1", "2.1"):
        raise _fail("--ocpp", f"must be 2.0.1 or 2.1, got {ocpp!r}")
    if duration is not None and duration <= 0:
        raise _fail("--duration", f"must be positive, got {duration}")
    if interval <= 0:
        raise _fail("--interval", f"must be positive, got {interval}")
    if auth not in AUTHORIZATION_MODES:
        raise _fail("--auth", f"must be one of {', '.join(AUTHORIZATION_MODES)}, got {auth!r}")
    if energy_unit not in ENERGY_UNITS:
        raise _fail("--energy-unit", f"must be Wh or kWh, got {energy_unit!r}")
    if log_level not in LOG_LEVELS:
        raise _fail("--log-level", f"must be one of {', '.join(LOG_LEVELS)}")
    if password is not None and not 16 <= len(password) <= 40:
        raise _fail("--password", "OCPP security profile 1 passwords are 16 to 40 characters")
    if (ca is not None or cert_dir is not None) and not url.startswith("wss://"):
        raise _fail("--ca" if ca is not None else "--cert-dir", "needs a wss:// --url")
    if ca is not None and not ca.is_file():
        raise _fail("--ca", f"no such file: {ca}")
    if cert_dir is not None:
        missing = [f"{i}.{kind}" for i in station_ids(id_prefix, stations)
                   for kind in ("pem", "key") if not (cert_dir / f"{i}.{kind}").is_file()]
        if missing:
            raise _fail("--cert-dir", f"no {missing[0]} in {cert_dir} (csms certs station ID)")
    try:
        plan = load_scenario(scenario) if scenario is not None else Scenario()
    except ScenarioError as exc:
        raise _fail("--scenario", str(exc)) from None
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(
        LOG_LEVELS[log_level]), logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    options = FleetOptions(url=url, stations=stations, id_prefix=id_prefix, password=password,
                           ocpp=ocpp, seed=seed, duration_s=duration, authorization=auth,
                           ca_file=str(ca) if ca else None,
                           cert_dir=str(cert_dir) if cert_dir else None,
                           energy_unit=energy_unit)
    summary = asyncio.run(_run(options, plan, interval))
    typer.echo("", err=True)
    if summary_json is not None:
        try:
            summary_json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise _fail("--summary-json", f"cannot write {summary_json}: {exc.strerror}") from None
    typer.echo(summary_line(summary))


async def _run(options: FleetOptions, scenario: Scenario, interval: float) -> dict[str, Any]:
    fleet = Fleet(build_configs(options, scenario))
    tty = sys.stderr.isatty()

    def show(summary: dict[str, Any]) -> None:
        line = summary_line(summary)
        sys.stderr.write(f"\r{line}" if tty else f"{line}\n")
        sys.stderr.flush()

    task = asyncio.create_task(fleet.run(options.duration_s, on_tick=show, tick_s=interval))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        return fleet.summary()
