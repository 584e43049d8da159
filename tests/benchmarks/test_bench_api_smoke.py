"""The API benchmark, run tiny: it completes and prints every figure (no timing asserted)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

BENCH = Path(__file__).with_name("bench_api.py")


async def test_tiny_api_benchmark_prints_every_figure(pg_server_url: str):
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(BENCH), "--stations", "10", "--rate", "40", "--duration", "2",
        "--clients", "2", "--csv-rows", "5000", "--database-url", pg_server_url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, stderr.decode()[-2000:]
    text = stdout.decode()
    figures = json.loads(text[text.index("{"):])
    assert figures["csv"]["rows"] == 5000 and figures["csv"]["api_rss_peak_mb"] > 0
    routes = [row for row in figures["latency"] if "route" in row]
    assert [r["route"] for r in routes] == ["GET /v1/stations/{id}",
                                            "POST /v1/stations/{id}/calls?wait"]
    for row in routes:
        for phase in ("idle", "loaded"):
            assert row[phase]["requests"] > 0
            assert row[phase]["p99_ms"] >= row[phase]["p50_ms"] > 0
    assert figures["latency"][-1]["api_errors"] == 0
