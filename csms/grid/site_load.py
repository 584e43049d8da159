"""Reading a site's building-load meter data (CSV) into (time, kW) readings. Pure, no I/O.

The file has a header row naming a time column (``time``, ``timestamp`` or ``at``: ISO 8601,
UTC unless it carries an offset) and a load column: ``building_kw`` (kW) or ``building_w`` (W).
Other columns are ignored. A bad row refuses the whole file, naming its line.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime

from csms.store.grid.records import GridInputError

TIME_COLUMNS = ("time", "timestamp", "at")
LOAD_COLUMNS = {"building_kw": 1.0, "building_w": 0.001}
MAX_ROWS = 1_000_000


def parse_load_csv(text: str) -> list[tuple[datetime, float]]:
    """The readings of a building-load CSV, sorted by time; GridInputError on any problem."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise GridInputError("the file is empty (expected a header: time,building_kw)") from None
    except csv.Error as exc:
        raise GridInputError(f"line 1: {exc}") from None
    time_col = next((header.index(c) for c in TIME_COLUMNS if c in header), None)
    load = next(((header.index(c), f) for c, f in LOAD_COLUMNS.items() if c in header), None)
    if time_col is None or load is None:
        raise GridInputError("the header must name a time column (time, timestamp or at) and "
                             "building_kw or building_w")
    out: dict[datetime, float] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(out) >= MAX_ROWS:
                raise GridInputError(f"more than {MAX_ROWS} readings; split the file")
            if len(row) <= max(time_col, load[0]):
                raise GridInputError(f"line {line}: expected {len(header)} columns")
            raw_time, raw_load = row[time_col].strip(), row[load[0]].strip()
            try:
                at = datetime.fromisoformat(raw_time.replace("Z", "+00:00"))
            except ValueError:
                raise GridInputError(f"line {line}: time {raw_time!r} is not ISO 8601") from None
            at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
            try:
                kw = float(raw_load) * load[1]
            except ValueError:
                raise GridInputError(f"line {line}: load {raw_load!r} is not a number") from None
            if not math.isfinite(kw) or kw < 0:
                raise GridInputError(f"line {line}: load must be a finite number >= 0")
            out[at] = kw
    except csv.Error as exc:
        raise GridInputError(f"line {reader.line_num}: {exc}") from None
    if not out:
        raise GridInputError("the file has a header but no readings")
    return sorted(out.items())
