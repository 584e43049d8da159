"""The plug-in forecast from stored sessions: chance of being plugged in and SoC by hour of
week, the expected and firm (P90) kW over a window, a DSGS nomination, and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from csms.cli import app
from csms.grid.service import plugin_outlook, suggest_nomination
from csms.store.db import open_pool
from csms.store.grid import events as grid_events
from csms.store.grid.records import Program
from tests.grid.history import NOW, store_recent_weeks, store_sessions
from tests.grid.history import three_stations as history


async def test_forecast_follows_who_is_usually_there(database_url: str) -> None:
    pool = await open_pool(database_url)
    try:
        await store_sessions(pool, history())
        program = Program("p")
        monday = await plugin_outlook(pool, program, NOW + timedelta(hours=16),
                                      NOW + timedelta(hours=21), weeks=4, now=NOW)
        tuesday = await plugin_outlook(pool, program, NOW + timedelta(days=1, hours=16),
                                       NOW + timedelta(days=1, hours=21), weeks=4, now=NOW)
        by_key = {e.key: e for e in monday.evses}
        # four Mondays out of four; the prior (worth two days) is centred on the weekdays:
        # 20 of 20 for CP-1 and 12 of 20 for CP-2, with the Jeffreys half-counts
        assert by_key["CP-1/1"].chance == pytest.approx(
            (2 * 20.5 / 21 + 4) / (2 + 4))
        assert by_key["CP-2/1"].chance == pytest.approx((2 * 12.5 / 21 + 4) / (2 + 4))
        assert by_key["CP-3/1"].chance == pytest.approx((2 * 0.5 / 21) / (2 + 4))
        assert by_key["CP-1/1"].soc == pytest.approx(0.8)
        # CP-1 at 80 % over 5 h above a 20 % floor: 0.6 * 39 kWh * 0.933 / 5 h = 4.37 kW
        assert by_key["CP-1/1"].kw_if_there == pytest.approx(0.6 * 39 * 0.87 ** 0.5 / 5)
        assert 0 < monday.firm_kw < monday.expected_kw < 4.37 + 2.91
        # CP-2 is never there on Tuesdays
        assert {e.key: e for e in tuesday.evses}["CP-2/1"].chance == pytest.approx(
            (2 * 12.5 / 21) / (2 + 4))
        assert tuesday.expected_kw < monday.expected_kw
        await grid_events.save_program(pool, Program("dsgs", compensation="dsgs"))
        nomination = await suggest_nomination(pool, Program("dsgs", compensation="dsgs"),
                                              "2026-07", weeks=4, now=NOW)
        assert nomination.worst_kw <= nomination.suggested_kw <= nomination.best_kw
        assert len(nomination.blocks) == 31 * 4  # each day, 2-hour blocks from 16 to 21
    finally:
        await pool.close()


def test_forecast_and_nominate_commands(database_url: str) -> None:
    import asyncio

    asyncio.run(store_recent_weeks(database_url))

    def csms(*args: str):
        return CliRunner().invoke(app, [*args, "--database-url", database_url],
                                  prog_name="csms")

    day = (datetime.now(UTC) + timedelta(days=7 - datetime.now(UTC).weekday())).date()
    out = csms("fleet", "forecast", "--date", day.isoformat(), "--from", "16:00", "--until",
               "21:00", "--weeks", "4", "--json")
    assert out.exit_code == 0, out.stderr
    found = json.loads(out.stdout)
    assert 0 <= found["firm_p90_kw"] <= found["expected_kw"] and found["expected_kw"] > 0
    assert {e["evse"] for e in found["by_evse"]} == {"CP-1/1", "CP-2/1", "CP-3/1"}
    bad = csms("fleet", "forecast", "--date", "tomorrow", "--from", "16:00", "--until", "21:00")
    assert bad.exit_code == 2 and "--date" in bad.stderr and "Traceback" not in bad.stderr
    assert csms("programs", "add", "CEC-DSGS", "--compensation", "dsgs").exit_code == 0
    month = f"{day.year:04d}-{day.month:02d}"
    nominated = csms("programs", "nominate", "CEC-DSGS", "--month", month, "--weeks", "4",
                     "--json")
    assert nominated.exit_code == 0, nominated.stderr
    assert json.loads(nominated.stdout)["suggested_kw"] >= 0
    wrong = csms("programs", "nominate", "CEC-DSGS", "--month", "2026-13")
    assert wrong.exit_code == 2 and "--month" in wrong.stderr
    missing = csms("programs", "nominate", "NOPE", "--month", "2026-07")
    assert missing.exit_code == 3
