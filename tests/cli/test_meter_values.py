"""``csms meter-values export``: CSV with a header row, filtered by station and time."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from csms.cli.meter_values import HEADER
from tests.cli.conftest import Invoke, assert_error, assert_ok, with_db
from tests.cli.seed import discharge_session, open_session


@pytest.fixture
def seeded(csms: Invoke, database_url: str) -> Invoke:
    async def seed(db):  # type: ignore[no-untyped-def]
        await discharge_session(db)
        await open_session(db)

    with_db(database_url, seed)
    return csms


def rows(text: str) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    assert header == list(HEADER)
    return [dict(zip(header, r, strict=True)) for r in reader]


def test_header_names_the_columns() -> None:
    assert HEADER == (
        "station",
        "evse",
        "transaction",
        "timestamp",
        "measurand",
        "phase",
        "location",
        "unit",
        "value",
    )


def test_export_everything_to_stdout(seeded: Invoke) -> None:
    exported = rows(assert_ok(seeded("meter-values", "export")).stdout)
    assert len(exported) == 10
    assert {r["station"] for r in exported} == {"CP-1", "CP-2"}
    first = exported[0]
    assert first["station"] == "CP-1"
    assert first["evse"] == "1"
    assert first["transaction"] == "TX-1"
    assert first["timestamp"] == "2026-11-05T16:00:00+00:00"
    phased = [r for r in exported if r["measurand"] == "Power.Active.Import"]
    assert {r["phase"] for r in phased} == {"L1"}
    assert {float(r["value"]) for r in phased} == {-7000.0}
    assert {r["unit"] for r in phased} == {"W"}


def test_filters_by_station_and_time(seeded: Invoke) -> None:
    only = rows(assert_ok(seeded("meter-values", "export", "--station", "CP-2")).stdout)
    assert [r["station"] for r in only] == ["CP-2"]
    window = rows(
        assert_ok(
            seeded(
                "meter-values",
                "export",
                "--from",
                "2026-11-05T16:30:00Z",
                "--until",
                "2026-11-05T17:00:00Z",
            )
        ).stdout
    )
    assert {r["timestamp"] for r in window} == {"2026-11-05T16:30:00+00:00"}
    assert len(window) == 3
    assert rows(assert_ok(seeded("meter-values", "export", "--from", "now")).stdout) == []


def test_output_file(seeded: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "mv.csv"
    result = assert_ok(
        seeded("meter-values", "export", "--station", "CP-1", "--output", str(target))
    )
    assert "9 meter values" in result.stdout
    assert len(rows(target.read_text())) == 9
    assert not (tmp_path / "mv.csv.partial").exists()


def test_export_errors(seeded: Invoke, tmp_path: Path) -> None:
    assert_error(seeded("meter-values", "export", "--from", "soonish"), 2, "--from")
    assert_error(seeded("meter-values", "export", "--until", "2026-13-01"), 2, "--until")
    assert_error(
        seeded("meter-values", "export", "--from", "now", "--until", "-1h"), 2, "--until", "later"
    )
    missing_dir = tmp_path / "no" / "such" / "dir" / "mv.csv"
    assert_error(seeded("meter-values", "export", "--output", str(missing_dir)), 2, "--output")
    assert not missing_dir.parent.exists()
