"""No secret in any log line: a real ``csms serve`` at debug level, through a password rotation
and a run of failed logins, and the command line's own output."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from csms.store import stations
from csms.store.db import open_pool
from simulators.station import Station, StationConfig
from tests.cli.conftest import run_cli_async
from tests.server.conftest import basic
from tests.server.helpers import CsmsProcess, until

#: Fault tests log many tracebacks: plain lines keep them cheap.
pytestmark = pytest.mark.usefixtures("plain_logs")

OLD = "old-secret-Zq81-pass"
NEW = "new-secret-Xw27-pass"
WRONG = "guess-secret-Lp55-pass"


async def test_no_password_is_ever_logged(database_url: str, tmp_path: Path) -> None:
    pool = await open_pool(database_url)
    await stations.register_station(pool, "SIM-LOG", OLD)
    csms = CsmsProcess(database_url, tmp_path / "csms.log", None, "--log-level", "debug")
    station = Station(StationConfig("SIM-LOG", csms.url, password=OLD, backoff_min_s=0.2,
                                    backoff_random_s=0.2))
    task: asyncio.Task[None] | None = None
    try:
        await csms.start()
        task = asyncio.create_task(station.run())
        await until(lambda: station.online, what="station online")
        rotated = await run_cli_async("stations", "set-password", "SIM-LOG", "--password", NEW,
                                      "--database-url", database_url)
        assert rotated.exit_code == 0, rotated.stderr
        await until(lambda: station.stats.connects == 2 and station.online,
                    what="login with the new password")
        station.stop()
        await task
        statuses = []
        for _ in range(11):
            with pytest.raises(InvalidStatus) as refused:
                await connect(f"{csms.url}/SIM-LOG", subprotocols=["ocpp2.0.1"],
                              additional_headers=basic("SIM-LOG", WRONG), open_timeout=10)
            statuses.append(refused.value.response.status_code)
        assert statuses == [401] * 10 + [429]
        assert await csms.terminate() == 0
    finally:
        await csms.stop()
        await pool.close()
    lines = csms.log_lines()
    # The rotation went through the logged frames (masked), the failures were logged ...
    sent = [e for e in csms.events("ocpp.out") if "BasicAuthPassword" in e.get("frame", "")]
    assert sent and all('"attributeValue":"***"' in e["frame"] for e in sent)
    failed = csms.events("auth_failed")
    assert len(failed) == 10 and failed[-1]["recent_failures"] == 10
    assert {e["reason"] for e in failed} == {"wrong_password"}
    assert csms.events("auth_rate_limited")[0]["station_id"] == "SIM-LOG"
    # ... and no line of the server, nor of the command line, carries a password.
    output = [*lines, rotated.stdout, rotated.stderr]
    for secret in (OLD, NEW, WRONG):
        assert not [line for line in output if secret in line], secret
    assert all(json.loads(line) for line in lines if line.startswith("{"))
