"""The dashboard's browser tests: one simulated fleet with a grid event per module, and
Debian's Chromium driven by Playwright (never a browser Playwright downloads itself)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.dashboard.live_fleet import FleetPlan, LiveFleet, Running

CHROMIUM = os.environ.get("CSMS_TEST_CHROMIUM", "/usr/bin/chromium")
#: screenshots of every page the tests look at (ignored by git)
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "dashboard"


def _chromium_missing() -> str | None:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return (f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it): "
                "the dashboard's browser tests are skipped")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed: the browser tests are skipped"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium from the system's packages."""
    missing = _chromium_missing()
    if missing:
        print(missing)
        pytest.skip(missing)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=20_000)  # live updates come at the fleet's pace
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def live(pg_server_url: str, browser: object) -> Iterator[tuple[Running, LiveFleet]]:
    """The fleet, the API and the event (started after the browser, which may skip)."""
    fleet = LiveFleet(pg_server_url, FleetPlan())
    running = fleet.start()
    try:
        yield running, fleet
    finally:
        fleet.stop()
