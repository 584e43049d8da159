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
        "--restart-storm", "--settle-max", "4", "--idle", "0.5",
        "--database-url", pg_server_url, "--json", str(out),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, stderr.decode()[-2000:]
    text = stdout.decode()
    for name in (*FIGURES, *LOADS, "cpu csms/echo sustained", "cpu csms/ocpp sustained",
                 "csms_idle_cores", "echo_idle_cores", "csms_settle_s"):
        assert re.search(rf"^{re.escape(name)}\s+\S", text, re.MULTILINE), name
    figures = json.loads(out.read_text())
    assert figures["figures"]["dispatch_answered"] == 12
    # Every station logged in once before the kill, so each has its verifier.
    assert figures["figures"]["verifiers_stored"] == 12
    for name in LOADS:
        load = figures["loads"][name]
        assert load["messages"] > 0 and load["errors"] == 0, name
        assert load["cpu"] > 0 and load["p99_ms"] >= load["p50_ms"] > 0, name
    # The CSMS's group commits, read from its /metrics: every write in one.
    for name in ("csms sustained", "csms saturated"):
        assert figures["loads"][name]["per_commit"] >= 1, name


async def test_tiny_scale_benchmark_spreads_the_fleet_and_prints_every_figure(
    tmp_path: Path, pg_server_url: str
):
    out = tmp_path / "scale.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(BENCH.with_name("bench_scale.py")), "--stations", "12",
        "--per-process", "5", "--rate", "30", "--duration", "1", "--import-verifiers",
        "--database-url", pg_server_url, "--json", str(out),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode == 0, stderr.decode()[-2000:]
    figures = json.loads(out.read_text())
    assert figures["dispatch_answered"] == 12
    assert figures["sustained_msgs"] > 0 and figures["sustained_errors"] == 0
    # Two workers, and the twelve stations spread over them.
    assert len(figures["stations_per_worker"]) >= 2
    assert sum(figures["stations_per_worker"]) == 12
    for name in ("boot_storm_s", "rss_per_station_kb", "sustained_p99_ms", "dispatch_s"):
        assert re.search(rf"^{name}\s+\S", stdout.decode(), re.MULTILINE), name


async def test_tiny_ab_benchmark_runs_the_base_from_its_revision(pg_server_url: str):
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(BENCH.with_name("bench_ab.py")), "--base", "HEAD",
        "--stations", "6", "--rate", "30", "--round-s", "1", "--rounds", "2", "--settle", "0.5",
        "--database-url", pg_server_url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode == 0, stderr.decode()[-2000:]
    text = stdout.decode()
    # The base's server imports csms from the revision's worktree, not from this checkout.
    base = re.search(r"^base\s+runs (\S+)", text, re.MULTILINE)
    assert base and "csms-base-" in base.group(1), text
    assert re.search(r"^change\s+runs (\S+)", text, re.MULTILINE)
    assert len(re.findall(r"^(base|change)\s+round\s+\d+: [1-9]\d* messages", text,
                          re.MULTILINE)) == 4, text
    assert re.search(r"^csms_change_over_base_median\s+\d", text, re.MULTILINE), text
