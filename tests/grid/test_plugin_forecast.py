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
from tests.grid.history import PastSession, store_sessions

# Monday 2026-06-01; four weeks of history before Monday 2026-06-29
WEEK0 = datetime(2026, 6, 1, tzinfo=UTC)
NOW = WEEK0 + timedelta(weeks=4)


def history() -> list[PastSession]:
    out = []
    for week in range(4):
        for day in range(7):
            base = WEEK0 + timedelta(weeks=week, days=day)
            if day < 5:  # CP-1: every weekday 15:00-22:00, 80 %
                out.append(PastSession("CP-1", base + timedelta(hours=15),
                                       base + timedelta(hours=22), 0.8))
            if day in (0, 2, 4):  # CP-2: Mondays, Wednesdays, Fridays, 60 %
                out.append(PastSession("CP-2", base + timedelta(hours=15),
                                       base + timedelta(hours=22), 0.6))
            # CP-3: mornings only
            out.append(PastSession("CP-3", base + timedelta(hours=7),
                                   base + timedelta(hours=11), 0.9))
    return out


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

    async def seed() -> None:
        pool = await open_pool(database_url)
        try:
            # the history ends now: shift it to the four weeks before today
            shift = (datetime.now(UTC) - NOW).days // 7 * 7
            await store_sessions(pool, [
                PastSession(s.station_id, s.start + timedelta(days=shift),
                            s.end + timedelta(days=shift), s.soc) for s in history()])
        finally:
            await pool.close()

    asyncio.run(seed())

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
