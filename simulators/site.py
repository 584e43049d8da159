"""A site: the building the chargers share a grid connection with, and its main meter.

The scenario's ``[site]`` table gives the building's load as a step profile (seconds from the
start of the run -> kW, held until the next point) and how often the main meter reports. The
main meter is EVSE 0 of the site's first station (OCPP's evseId 0 is the station's main meter):
it measures the grid connection, that is the building's load plus what every charger of the
site draws (minus what they discharge), and reports it as MeterValues with evseId 0:
Power.Active.Import / Power.Active.Export (W, net at the connection) and the connection's
Energy.Active.Import / Export registers (Wh), integrated exactly from the same figures.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from simulators.charger import PowerTrain


@dataclass(frozen=True)
class SiteSpec:
    """A site's building load (``(offset_s, kW)`` steps, sorted, the first at 0) and its main
    meter's reporting interval."""

    name: str
    building_kw: tuple[tuple[float, float], ...] = ((0.0, 0.0),)
    meter_interval_s: float = 5.0

    def __post_init__(self) -> None:
        if not self.building_kw or self.building_kw[0][0] != 0.0:
            raise ValueError("building_kw must start at offset 0")
        offsets = [t for t, _ in self.building_kw]
        if offsets != sorted(offsets) or len(set(offsets)) != len(offsets):
            raise ValueError("building_kw offsets must increase")
        if any(kw < 0 for _, kw in self.building_kw):
            raise ValueError("building_kw must not be negative")
        if self.meter_interval_s <= 0:
            raise ValueError("meter_interval_s must be positive")

    def building_at(self, offset_s: float) -> float:
        """The building's load ``offset_s`` seconds into the run (kW)."""
        i = bisect.bisect_right([t for t, _ in self.building_kw], offset_s) - 1
        return self.building_kw[max(0, i)][1]


class SiteMeter:
    """The main meter of a site: building load plus the chargers' power, integrated."""

    def __init__(self, spec: SiteSpec, start: float, trains: Sequence[PowerTrain] = ()) -> None:
        self.spec = spec
        self.start = start
        self.trains = list(trains)
        self.import_wh = 0.0
        self.export_wh = 0.0
        self._last: tuple[float, float] | None = None  # (time, net import kW)

    def net_import_kw(self, now: float) -> float:
        """Net import at the grid connection now (kW; negative: the site exports)."""
        return self.spec.building_at(now - self.start) + sum(t.power_kw for t in self.trains)

    def sample(self, now: float, iso: Any) -> dict[str, Any]:
        """Advance the registers to ``now`` and return one MeterValue (W and Wh)."""
        net = self.net_import_kw(now)
        if self._last is not None and now > self._last[0]:
            # trapezoid on the net power: each register takes its side of the line
            t0, p0 = self._last
            self.import_wh += _side_wh(p0, net, now - t0)
            self.export_wh += _side_wh(-p0, -net, now - t0)
        self._last = (now, net)
        watts = net * 1000.0
        values = [("Power.Active.Import", max(watts, 0.0), "W"),
                  ("Power.Active.Export", max(-watts, 0.0), "W"),
                  ("Energy.Active.Import.Register", self.import_wh, "Wh"),
                  ("Energy.Active.Export.Register", self.export_wh, "Wh")]
        return {"timestamp": iso(now), "sampledValue": [
            {"value": round(v, 3) + 0.0, "measurand": m, "context": "Sample.Periodic",
             "location": "Inlet", "unitOfMeasure": {"unit": u}} for m, v, u in values]}


def _side_wh(p0: float, p1: float, seconds: float) -> float:
    """Energy (Wh) of the positive part of a power line from ``p0`` to ``p1`` kW."""
    if p0 >= 0 and p1 >= 0:
        return (p0 + p1) / 2 * seconds / 3.6
    if p0 <= 0 and p1 <= 0:
        return 0.0
    cross = seconds * p0 / (p0 - p1)  # where the line crosses zero
    if p0 > 0:
        return p0 / 2 * cross / 3.6
    return p1 / 2 * (seconds - cross) / 3.6
