"""``csms demo``: the CSMS on its embedded database with a simulated V2G fleet, in one command.

It registers the fleet's stations, starts a CSMS node and the stations in this process, waits
for every car's transaction, then tells half of the fleet to discharge through the same
database path an operator's command takes, and prints what the stations do and what the CSMS
measured, until Ctrl-C or ``--duration``. The HTTP API runs beside it (``--api-port``), with
an admin key made for the demo and printed with the API's URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from csms.cli.base import DatabaseUrlOption, DataDirOption, resolve_url
from csms.cli.errors import CliError, ExitCode

PREFIX = "DEMO-"


def demo(
    stations: Annotated[int, typer.Option(min=1, max=2000, help="Simulated stations.")] = 10,
    port: Annotated[int, typer.Option(min=0, max=65535, help="CSMS port (0: any free).")] = 9000,
    ocpp: Annotated[str, typer.Option(help="OCPP version of the stations: 2.0.1 or 2.1.")] = "2.1",
    discharge_kw: Annotated[
        float, typer.Option(min=0.0, max=20.0, help="Export asked of half the fleet (kW).")
    ] = 10.0,
    duration: Annotated[
        float | None, typer.Option(min=1.0, help="Stop after this many seconds.")
    ] = None,
    api_port: Annotated[int, typer.Option(min=0, max=65535,
                                          help="HTTP API port (0: any free one).")] = 8080,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run the CSMS with a simulated fleet of bidirectional chargers and show V2G discharge."""
    if ocpp not in ("2.0.1", "2.1"):
        raise CliError("--ocpp: must be 2.0.1 or 2.1", ExitCode.USAGE)
    from csms.logging import configure_logging

    configure_logging("warning")
    url = resolve_url(database_url, data_dir)
    typer.echo(f"database: {'embedded PostgreSQL in ' + str(data_dir) if data_dir else url}")
    try:
        asyncio.run(_demo(url, stations, port, ocpp, discharge_kw * 1000, duration, api_port))
    except OSError as exc:
        raise CliError(f"--port {port} / --api-port {api_port}: {exc.strerror or exc}",
                       ExitCode.USAGE) from None


async def _demo(url: str, count: int, port: int, ocpp: str, discharge_w: float,
                duration: float | None, api_port: int) -> None:
    async with _api(url, api_port):
        await _fleet_demo(url, count, port, ocpp, discharge_w, duration)


@contextlib.asynccontextmanager
async def _api(url: str, port: int) -> AsyncIterator[None]:
    """The HTTP API beside the demo, with an admin key made for it (printed)."""
    from csms.api.app import create_app
    from csms.api.auth import hash_key, new_key, shown_prefix
    from csms.api.context import ApiSettings
    from csms.api.server import in_loop
    from csms.store import api_keys
    from csms.store.db import open_pool

    pool = await open_pool(url, max_size=1)
    try:
        key = new_key()
        await api_keys.add_key(pool, "csms demo", "admin", shown_prefix(key), hash_key(key))
    finally:
        await pool.close()
    async with in_loop(create_app(ApiSettings(database_url=url)), "127.0.0.1", port) as bound:
        base = f"http://127.0.0.1:{bound}"
        typer.echo(f"HTTP API on {base} (docs {base}/docs), admin key: {key}")
        typer.echo(f"  try: curl -H 'Authorization: Bearer {key}' {base}/v1/stations")
        yield


async def _fleet_demo(url: str, count: int, port: int, ocpp: str, discharge_w: float,
                      duration: float | None) -> None:
    from csms.config import ServerConfig
    from csms.server import CentralSystem
    from csms.store import metering, stations, transactions
    from csms.store.passwords import GENERATED_LOG2_N, generate_password, hash_password
    from simulators.scenario import Scenario
    from simulators.simulated_fleet import Fleet, FleetOptions, build_configs, station_ids

    password = generate_password()
    hashed = hash_password(password, log2_n=GENERATED_LOG2_N)
    system = CentralSystem(ServerConfig(host="127.0.0.1", port=port, database_url=url,
                                        heartbeat_interval=60))
    await system.start()
    assert system.pool is not None
    pool = system.pool
    ids = station_ids(PREFIX, count)
    for station_id in ids:
        try:
            await stations.register_station(pool, station_id, None, password_hash=hashed)
        except stations.StationExists:
            await stations.set_password(pool, station_id, password, log2_n=GENERATED_LOG2_N)
    endpoint = f"ws://127.0.0.1:{system.port}/ocpp"
    typer.echo(f"CSMS listening on {endpoint}/<station id>; {count} stations {ids[0]}.."
               f"{ids[-1]} registered (OCPP {ocpp}, security profile 1)")
    options = FleetOptions(url=endpoint, stations=count, id_prefix=PREFIX, password=password,
                           ocpp=ocpp, seed=secrets.randbelow(10_000))
    fleet = Fleet(build_configs(options, Scenario(meter_interval_s=5)))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    runner = asyncio.create_task(fleet.run())
    started = loop.time()
    discharged: list[str] = []
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5)
            active = {sid: await transactions.active_transaction_ids(pool, sid) for sid in ids}
            if not discharged and all(active.values()):
                discharged = await _dispatch(pool, url, ids[: max(1, count // 2)], ocpp,
                                             discharge_w)
            since = datetime.now(UTC) - timedelta(seconds=6)
            rows = await metering.meter_values(pool, since=since, measurands=[
                "Power.Active.Export", "Power.Active.Import"])
            measured = _latest_by_station(rows)
            summary: dict[str, Any] = fleet.summary()
            typer.echo(
                f"t={loop.time() - started:5.0f}s  connected {summary['connected']}/{count}"
                f"  charging {summary['charging']}  discharging {summary['discharging']}"
                f"  fleet in {summary['kw_in']:.1f} kW out {summary['kw_out']:.1f} kW"
                f"  | CSMS measured export {measured['Power.Active.Export'] / 1000:.1f} kW"
                f" import {measured['Power.Active.Import'] / 1000:.1f} kW")
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await system.stop()
    typer.echo("stopped. Look around with: csms stations list | csms transactions list | "
               "csms meter-values export --station " + ids[0])


async def _dispatch(pool: Any, url: str, targets: list[str], ocpp: str,
                    power_w: float) -> list[str]:
    from csms.operations import Operations
    from csms.operations.profiles import set_power

    now = datetime.now(UTC)
    accepted = []
    async with Operations(pool, url) as ops:
        for station_id in targets:
            result = await set_power(ops, station_id, 1, power_w, now, now + timedelta(hours=1),
                                     discharging=True, timeout=15)
            if result.ok:
                accepted.append(station_id)
            else:
                typer.echo(f"{station_id}: discharge refused: {result.describe()}")
    typer.echo(f"asked {len(targets)} stations to discharge {power_w / 1000:g} kW each "
               f"(SetChargingProfile, OCPP {ocpp}): {len(accepted)} accepted")
    return accepted


def _latest_by_station(rows: list[Any]) -> dict[str, float]:
    latest: dict[tuple[str, str], Any] = {}
    for row in rows:
        if not row.unit_valid:
            continue
        key = (row.station_id, row.measurand)
        if key not in latest or row.timestamp > latest[key].timestamp:
            latest[key] = row
    totals = {"Power.Active.Export": 0.0, "Power.Active.Import": 0.0}
    for (_, measurand), row in latest.items():
        totals[measurand] += row.value
    return totals

