"""The CSMS benchmark, run tiny: it completes and prints every figure (no timing asserted)."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

BENCH = Path(__file__).with_name("bench_csms.py")
FIGURES = ("boot_storm_s", "reconnect_storm_s", "rss_per_station_kb", "dispatch_s",
           "dispatch_answered", "restart_storm_s", "verifiers_stored")
LOADS = ("csms sustained", "csms saturated", "echo sustained", "echo saturated",
         "ocpp sustained", "ocpp saturated")


async def test_tiny_benchmark_prints_every_figure(tmp_path: Path, pg_server_url: str):
    out = tmp_path / "figures.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(BENCH), "--stations", "12", "--rate", "60", "--duration", "2",
        "--saturate-stations", "6", "--floor-stations", "6", "--hash-cost", "10",
        "--restart-storm",
        "--database-url", pg_server_url, "--json", str(out),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, stderr.decode()[-2000:]
    text = stdout.decode()
    for name in (*FIGURES, *LOADS, "cpu csms/echo sustained", "cpu csms/ocpp sustained"):
        assert re.search(rf"^{re.escape(name)}\s+\S", text, re.MULTILINE), name
    figures = json.loads(out.read_text())
    assert figures["figures"]["dispatch_answered"] == 12
    # Every station logged in once before the kill, so each has its verifier.
    assert figures["figures"]["verifiers_stored"] == 12
    for name in LOADS:
        load = figures["loads"][name]
        assert load["messages"] > 0 and load["errors"] == 0, name
        assert load["cpu"] > 0 and load["p99_ms"] >= load["p50_ms"] > 0, name
