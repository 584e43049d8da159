"""The reference servers of the CSMS benchmark, each run as a process of its own.

- ``echo``: a bare websockets server that sends every message back, with the same websockets
  settings as ``csms serve``: the floor no Python CSMS on websockets can go below.
- ``ocpp``: the ``ocpp`` package's own ``ChargePoint`` dispatch path (its validation, its
  routing) on the same websockets server, storing what stations send with this project's store
  functions, one database write per message, each awaited before the answer: the same work
  done the way a CSMS built on that package does it.

Run: ``python tests/benchmarks/bench_servers.py echo|ocpp --port P [--database-url URL]
[--loop asyncio|uvloop]``; it
prints ``ready`` on stdout once it listens and stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

from csms.cli.serve import EVENT_LOOPS, loop_factory
from csms.config import ServerConfig

MAX_SIZE = 1024 * 1024


def _settings() -> dict[str, Any]:
    """The websockets settings of ``csms serve`` (csms.config.ServerConfig defaults)."""
    config = ServerConfig()
    return {"subprotocols": ["ocpp2.0.1"], "compression": None, "max_size": MAX_SIZE,
            "ping_interval": 30, "ping_timeout": 30, "backlog": 4096,
            "extensions": [ServerPerMessageDeflateFactory(
                server_max_window_bits=config.deflate_window_bits,
                client_max_window_bits=config.deflate_window_bits,
                compress_settings={"memLevel": config.deflate_mem_level})]}


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()


async def run_echo(port: int) -> None:
    """Serve the echo floor on 127.0.0.1:``port`` until SIGTERM."""

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", port, **_settings()):
        await _until_signalled()


async def run_ocpp(port: int, database_url: str) -> None:
    """Serve the ``ocpp`` package's ChargePoint dispatch path until SIGTERM."""
    from ocpp.charge_point import snake_to_camel_case
    from ocpp.routing import on
    from ocpp.v201 import ChargePoint, call_result
    from ocpp.v201.enums import Action

    from csms.blocks.metering import samples_from
    from csms.blocks.transactions import tx_event
    from csms.store import metering, stations, transactions
    from csms.store.db import open_pool

    pool = await open_pool(database_url, max_size=10)

    def now() -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    class Baseline(ChargePoint):
        @on(Action.boot_notification)
        async def on_boot(self, charging_station: dict[str, Any], reason: str,
                          **_: Any) -> Any:
            await stations.record_boot(pool, self.id, status="Accepted", reason=reason,
                                       vendor_name=charging_station["vendor_name"],
                                       model=charging_station["model"])
            return call_result.BootNotification(current_time=now(), interval=300,
                                                status="Accepted")

        @on(Action.heartbeat)
        async def on_heartbeat(self, **_: Any) -> Any:
            await stations.record_heartbeats(pool, [self.id])
            return call_result.Heartbeat(current_time=now())

        @on(Action.meter_values)
        async def on_meter_values(self, evse_id: int, meter_value: list[Any], **_: Any) -> Any:
            samples = samples_from(snake_to_camel_case(meter_value), evse_id, None)
            await metering.insert_meter_values(pool, self.id, samples)
            return call_result.MeterValues()

        @on(Action.transaction_event)
        async def on_transaction_event(self, **kwargs: Any) -> Any:
            payload = snake_to_camel_case(kwargs)
            event = tx_event(payload)
            samples = samples_from(payload.get("meterValue", []), event.evse_id,
                                   event.transaction_id)
            await transactions.record_transaction_event(pool, self.id, event, samples)
            return call_result.TransactionEvent()

    async def handle(ws: ServerConnection) -> None:
        identity = ws.request.path.rsplit("/", 1)[-1]
        try:
            await stations.register_station(pool, identity, None, security_profile=0)
        except stations.StationExists:
            pass
        try:
            await Baseline(identity, ws).start()
        except Exception:  # the socket closed: ChargePoint.start only ends so
            return

    async with serve(handle, "127.0.0.1", port, **_settings()):
        await _until_signalled()
    await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("echo", "ocpp"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--loop", choices=EVENT_LOOPS, default="auto",
                        help="the event loop (as csms serve --loop)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with asyncio.Runner(loop_factory=loop_factory(args.loop)) as runner:
        if args.kind == "echo":
            runner.run(run_echo(args.port))
        else:
            runner.run(run_ocpp(args.port, args.database_url))


if __name__ == "__main__":
    main()
