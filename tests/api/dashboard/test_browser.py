"""The dashboard in a real browser (Debian's Chromium, headless, driven by Playwright) against
a simulated fleet with a running grid event: every page shows its data, live updates arrive
without a reload, no console errors, basic accessibility (axe-core), screenshots kept in
tests/artifacts/dashboard/."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.api.dashboard.conftest import ARTIFACTS
from tests.api.dashboard.live_fleet import Running

pytestmark = pytest.mark.e2e

KW = re.compile(r"^-?\d+\.\d$")
SOC = re.compile(r"^\d+(\.\d)? %$")
#: a marker set in the page: still there after an update means the page was not reloaded
MARK = "window.__notReloaded = true"


class Seen:
    """A logged-in page and every console error and uncaught exception it showed."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def still_same_page(self) -> bool:
        return self.page.evaluate("window.__notReloaded === true")


def login(page: Any, running: Running, path: str = "/dashboard/") -> None:
    page.goto(running.url + path)
    page.get_by_label("API key").fill(running.key)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


@contextmanager
def opened(browser: Any, running: Running, path: str) -> Iterator[Seen]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        seen = Seen(page)
        login(page, running, path)
        yield seen
        assert seen.errors == [], seen.errors
    finally:
        context.close()


def api_get(running: Running, path: str) -> Any:
    answer = httpx.get(running.url + path, headers={"Authorization": f"Bearer {running.key}"},
                       timeout=10)
    answer.raise_for_status()
    return answer.json()


def taking_part(running: Running) -> list[str]:
    """The stations whose EV takes part in the event (state "in")."""
    detail = api_get(running, f"/v1/events/{running.event_id}")
    return [e["station_id"] for e in detail["evs"] if e["state"] == "in"]


def wait_for_status(running: Running, wanted: set[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = api_get(running, f"/v1/events/{running.event_id}")["status"]
        if status in wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def test_login_session_cookie_and_refusals(browser, live):
    running, _ = live
    context = browser.new_context()
    try:
        page = context.new_page()
        answer = page.goto(running.url + "/dashboard/events")
        assert page.url.startswith(running.url + "/dashboard/login?next=")
        page.get_by_label("API key").fill("csms_not-a-key")
        page.get_by_role("button", name="Log in").click()
        assert page.get_by_role("alert").inner_text() == "That key is unknown or revoked."
        assert context.cookies() == []
        page.get_by_label("API key").fill(running.key)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
        assert page.url == running.url + "/dashboard/events"  # back where it was asked for
        (cookie,) = context.cookies()
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        assert cookie["path"] == "/dashboard"
        assert page.get_by_role("link", name=f"Event {running.event_id}").count() == 1
        # the stream refuses a browser without a session; the bearer API is unchanged
        assert httpx.get(running.url + "/dashboard/stream").status_code == 401
        answer = page.request.get(running.url + "/dashboard/stream?types=nope")
        assert answer.status == 422
    finally:
        context.close()


def test_fleet_page_lists_every_station_and_follows_the_stream(browser, live):
    running, fleet = live
    with opened(browser, running, "/dashboard/") as seen:
        page = seen.page
        rows = page.locator("#fleet-table tbody tr")
        assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.station)")) == \
            sorted(running.station_ids)
        plugged = page.locator(
            "#fleet-table tbody tr:has(td[data-field=transaction]:not(:empty))")
        assert plugged.count() >= len(running.station_ids) - 1
        for text in plugged.locator("td[data-field=soc]").all_inner_texts():
            assert SOC.match(text), text
        for text in plugged.locator("td[data-field=export]").all_inner_texts():
            assert KW.match(text), text
        assert KW.match(page.locator("#sum-export").inner_text())
        expect(page.locator("#live-state")).to_have_text("Live")
        page.evaluate(MARK)
        gone = running.station_ids[-1]
        before = int(page.locator("#sum-online").inner_text())
        fleet.disconnect(gone)
        cell = page.locator(f'tr[data-station="{gone}"] td[data-field=online]')
        cell.filter(has_text="offline").wait_for(timeout=20_000)
        expect(page.locator("#sum-online")).to_have_text(str(before - 1))
        assert seen.still_same_page()
        seen.shot("fleet")
        page.get_by_label("Search").fill(running.station_ids[1])
        page.get_by_role("button", name="Filter").click()
        page.wait_for_load_state()
        assert rows.count() == 1
        page.get_by_label("Search").fill("")
        page.get_by_label("Connection").select_option("offline")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_load_state()
        assert rows.evaluate_all("rs => rs.map(r => r.dataset.station)") == [gone]


def test_event_page_draws_target_measured_parts_and_soc_live(browser, live):
    running, _ = live
    assert wait_for_status(running, {"active"}, 30) == "active"
    with opened(browser, running, f"/dashboard/events/{running.event_id}") as seen:
        page = seen.page
        for chart in ("chart-fleet", "chart-stack", "chart-soc"):
            assert page.locator(f"#{chart} canvas").count() == 1, chart
        assert page.locator("#chart-fleet .u-legend").inner_text().count("kW") >= 2
        evs = page.locator("#ev-table tbody tr")
        assert evs.count() >= 3
        for text in evs.locator("[data-field=soc]").all_inner_texts():
            assert text == "" or SOC.match(text), text
        expect(page.locator("#live-state")).to_have_text("Live")
        page.evaluate(MARK)
        step = page.locator("#step-no").inner_text()
        expect(page.locator("#step-no")).not_to_have_text(step, timeout=15_000)
        # meter values extend the charts at meter resolution (the program's 1 s)
        for _ in range(3):
            measured_at = page.locator("#measured-at").inner_text()
            expect(page.locator("#measured-at")).not_to_have_text(measured_at, timeout=10_000)
        assert KW.match(page.locator("#measured-now").inner_text())
        assert KW.match(page.locator("#target-now").inner_text())
        # the stuck station (5 in the scenario) is set aside, or was never taken, with a reason
        page.locator("#aside-list li", has_text="SIM5").wait_for(timeout=30_000)
        assert re.search(r"SIM5\S* (set aside|not taking part): \S",
                         page.locator("#aside-list").inner_text())
        assert seen.still_same_page()
        seen.shot("event-live")


def test_station_page_boot_transactions_profiles_commands_and_history(browser, live):
    running, fleet = live
    station = taking_part(running)[0]
    with opened(browser, running, f"/dashboard/stations/{station}") as seen:
        page = seen.page
        facts = page.locator("section:has(#boot-title) dl").inner_text()
        assert "Fermata Energy" in facts and "FE-20" in facts
        assert page.locator("#chart-meter canvas").count() == 1
        assert page.locator("section:has(#tx-title) tbody tr").count() >= 1
        profiles = page.get_by_role("table", name="Installed charging profiles")
        assert "TxProfile" in profiles.inner_text()
        assert page.locator(".chart.composite canvas").count() >= 1
        assert "SetChargingProfile" in page.locator("section:has(#commands-title)").inner_text()
        assert "connected (2.0.1" in page.locator("#history").inner_text()
        seen.shot("station")
        expect(page.locator("#live-state")).to_have_text("Live")
        page.evaluate(MARK)
        fleet.disconnect(station)
        page.locator("#station-online", has_text="offline").wait_for(timeout=20_000)
        assert "disconnected" in page.locator("#history li").first.inner_text()
        assert seen.still_same_page()


def test_pages_meet_basic_accessibility(browser, live):
    from axe_playwright_python.sync_playwright import Axe

    running, _ = live
    axe = Axe()
    paths = ["/dashboard/", f"/dashboard/events/{running.event_id}",
             f"/dashboard/stations/{running.station_ids[0]}", "/dashboard/events"]
    found = {}
    with opened(browser, running, paths[0]) as seen:
        for path in paths:
            seen.page.goto(running.url + path)
            result = axe.run(seen.page, options={
                "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa"]}})
            found[path] = [(v["id"], [n["target"] for n in v["nodes"]][:3])
                           for v in result.response["violations"]]
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(running.url + "/dashboard/login")
        result = axe.run(page, options={
            "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa"]}})
        found["/dashboard/login"] = [v["id"] for v in result.response["violations"]]
    finally:
        context.close()
    assert all(not v for v in found.values()), found


def test_read_only_link_opens_the_dashboard_until_it_expires(browser, live):
    running, _ = live
    from typer.testing import CliRunner

    from csms.cli import app

    results = []  # in a thread of its own: Playwright's loop runs in this one
    worker = threading.Thread(target=lambda: results.append(CliRunner().invoke(
        app, ["dashboard-link", "--minutes", "5", "--url", running.url + "/",
              "--database-url", running.database_url], prog_name="csms")))
    worker.start()
    worker.join(60)
    (result,) = results
    assert result.exit_code == 0, result.stderr
    printed = result.stdout.strip()
    assert re.fullmatch(re.escape(running.url) + r"/dashboard/link\?t=l\.0\.read\.\d+\.[\w-]+",
                        printed), printed
    context = browser.new_context()
    try:
        page = context.new_page()
        seen = Seen(page)
        page.goto(printed)
        assert page.url == running.url + "/dashboard/"
        assert page.get_by_text("Read-only link").count() == 1
        assert page.locator("#fleet-table tbody tr").count() == len(running.station_ids)
        assert seen.errors == []
        (cookie,) = context.cookies()
        expires = int(printed.rsplit(".", 2)[-2])
        assert abs(cookie["expires"] - expires) <= 2 and cookie["httpOnly"]
        # a tampered link opens nothing
        forged = printed.replace(f".{expires}.", f".{expires + 3600}.")
        fresh = browser.new_context()
        try:
            other = fresh.new_page()
            answer = other.goto(forged)
            assert answer.status == 401 and fresh.cookies() == []
            assert "expired or is not valid" in other.get_by_role("alert").inner_text()
        finally:
            fresh.close()
    finally:
        context.close()


def test_after_the_event_the_report_has_the_same_charts_and_the_png(browser, live):
    running, _ = live
    left = (running.event_end.timestamp() - time.time()) + 30
    assert wait_for_status(running, {"completed", "cancelled"}, left) == "completed"
    with opened(browser, running, f"/dashboard/events/{running.event_id}") as seen:
        page = seen.page
        assert page.locator("#event-status").inner_text() == "completed"
        for chart in ("chart-fleet", "chart-stack", "chart-soc"):
            assert page.locator(f"#{chart} canvas").count() == 1, chart
        mv = page.locator("#mv")
        facts = mv.locator("dl").inner_text()
        assert re.search(r"Energy exported\s+\d+\.\d\d kWh", facts), facts
        assert re.search(r"Performance\s+\d+\.\d %", facts), facts
        intervals = mv.locator("table").first.locator("tbody tr")
        assert intervals.count() >= 3  # a short event: 10 s intervals
        assert KW.match(intervals.first.locator("td").nth(1).inner_text())
        earnings = mv.locator("table").nth(1).locator("tbody tr td:last-child").all_inner_texts()
        assert earnings and all(re.fullmatch(r"\$\d+\.\d\d", e) for e in earnings), earnings
        seen.shot("event-report")
        png = page.request.get(running.url + f"/dashboard/events/{running.event_id}/report.png")
        assert png.status == 200 and png.headers["content-type"] == "image/png"
        body = png.body()
        assert body[:8] == b"\x89PNG\r\n\x1a\n" and len(body) > 20_000
        (ARTIFACTS / "event-report-chart.png").write_bytes(body)
