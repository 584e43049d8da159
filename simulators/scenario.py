"""Fleet scenarios: which stations, which cars, when they come and go, and what goes wrong.

A scenario is a TOML file (see ``simulators/scenarios/``). Every random figure is a
distribution table: ``{ value = x }``, ``{ distribution = "uniform", min = a, max = b }`` or
``{ distribution = "normal", mean = m, sd = s, min = a, max = b }`` (clipped to [min, max]).
Times are relative to the start of the run: ``arrival_s`` in seconds, ``stay_h`` in hours.
``authorization = "rfid"`` makes each driver present the token ``TOK-<station id>`` (which the
CSMS must know); ``"none"`` starts transactions with a NoAuthorization token.
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from simulators.battery import EV_MODELS, BatterySpec
from simulators.charger import CHARGER_MODELS, ChargerSpec
from simulators.faults import FaultRates, ScheduledFault
from simulators.site import SiteSpec


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the offending key."""


@dataclass(frozen=True)
class Distribution:
    """A value drawn per car: fixed, uniform, or a clipped normal."""

    kind: str = "fixed"
    a: float = 0.0  # value, min, or mean
    b: float = 0.0  # max or sd
    low: float = float("-inf")
    high: float = float("inf")

    def draw(self, rng: random.Random) -> float:
        """One value."""
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        return min(self.high, max(self.low, rng.gauss(self.a, self.b)))

    @classmethod
    def parse(cls, raw: Any, key: str, low: float, high: float) -> Distribution:
        """Read a distribution table (or a bare number); values must lie in [low, high]."""
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            raw = {"value": raw}
        if not isinstance(raw, dict):
            raise ScenarioError(f"{key}: expected a number or a distribution table")
        kind = raw.get("distribution", "fixed" if "value" in raw else "uniform")
        allowed = {"fixed": {"value"}, "uniform": {"min", "max"},
                   "normal": {"mean", "sd", "min", "max"}}
        if kind not in allowed:
            raise ScenarioError(f"{key}.distribution: must be uniform or normal, got {kind!r}")
        extra = set(raw) - allowed[kind] - {"distribution"}
        missing = allowed[kind] - set(raw)
        if extra or missing:
            problem = f"unknown {sorted(extra)}" if extra else f"missing {sorted(missing)}"
            raise ScenarioError(f"{key}: {problem} for a {kind} distribution")
        numbers = {k: _number(raw[k], f"{key}.{k}") for k in allowed[kind]}
        for name, value in numbers.items():
            if name != "sd" and not low <= value <= high:
                raise ScenarioError(f"{key}.{name}: {value} is outside [{low}, {high}]")
        if kind == "fixed":
            return cls("fixed", numbers["value"])
        if kind == "uniform":
            if numbers["min"] > numbers["max"]:
                raise ScenarioError(f"{key}: min is greater than max")
            return cls("uniform", numbers["min"], numbers["max"])
        return cls("normal", numbers["mean"], numbers["sd"], numbers["min"], numbers["max"])


def _number(raw: Any, key: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ScenarioError(f"{key}: expected a number, got {raw!r}")
    return float(raw)


DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Weekly:
    """A week's pattern, for generating weeks of history: on which days drivers come, the
    chance each comes on such a day, and the local hour of arrival (the stay is ``stay_h``)."""

    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    show_up: float = 0.9
    arrival_h: Distribution = Distribution("uniform", 8.0, 10.0)


@dataclass(frozen=True)
class StationGroup:
    """``count`` stations of one charger model."""

    charger: ChargerSpec
    count: int


@dataclass(frozen=True)
class Scenario:
    """Everything a fleet run draws its stations and cars from."""

    name: str = "default"
    stations: tuple[StationGroup, ...] = ()
    evs: tuple[tuple[BatterySpec, float], ...] = ((EV_MODELS["leaf40"], 1.0),)
    soc: Distribution = Distribution("uniform", 0.3, 0.9)
    floor: Distribution = Distribution("fixed", 0.2)
    target_soc: Distribution = Distribution("fixed", 0.8)
    arrival_s: Distribution = Distribution("fixed", 0.0)
    stay_h: Distribution = Distribution("uniform", 2.0, 4.0)
    meter_interval_s: int = 60
    ocpp: str | None = None
    authorization: str | None = None
    faults: FaultRates = field(default_factory=FaultRates)
    scheduled: tuple[ScheduledFault, ...] = ()
    #: the building the stations share a grid connection with; its main meter is EVSE 0 of
    #: the first station
    site: SiteSpec | None = None
    weekly: Weekly | None = None

    def chargers(self, total: int) -> list[ChargerSpec]:
        """Charger of each station for a fleet of ``total`` (groups first, then FE-20s)."""
        out = [g.charger for g in self.stations for _ in range(g.count)]
        out = out[:total]
        return out + [CHARGER_MODELS["fe20"]] * (total - len(out))

    def draw_ev(self, rng: random.Random) -> BatterySpec:
        """One car model from the mix."""
        specs, weights = zip(*self.evs, strict=True)
        return rng.choices(specs, weights=weights)[0]


_TOP = {"name", "description", "ocpp", "authorization", "meter_interval_s", "stations", "evs",
        "soc", "floor", "target_soc", "arrival_s", "stay_h", "faults", "site", "weekly"}


def _weekly(raw: Any) -> Weekly:
    if not isinstance(raw, dict):
        raise ScenarioError("weekly: expected a table")
    unknown = set(raw) - {"days", "show_up", "arrival_h"}
    if unknown:
        raise ScenarioError(f"weekly: unknown key(s) {sorted(unknown)}")
    days = raw.get("days", list(DAY_NAMES[:5]))
    if not isinstance(days, list) or not days or any(d not in DAY_NAMES for d in days):
        raise ScenarioError(f"weekly.days: a list of {', '.join(DAY_NAMES)}")
    show_up = _number(raw.get("show_up", 0.9), "weekly.show_up")
    if not 0.0 <= show_up <= 1.0:
        raise ScenarioError("weekly.show_up: must be between 0 and 1")
    arrival = Distribution.parse(raw.get("arrival_h", {"min": 8, "max": 10}),
                                 "weekly.arrival_h", 0.0, 24.0)
    return Weekly(tuple(sorted(DAY_NAMES.index(d) for d in set(days))), show_up, arrival)


def _site(raw: Any) -> SiteSpec:
    if not isinstance(raw, dict):
        raise ScenarioError("site: expected a table")
    unknown = set(raw) - {"name", "building_kw", "meter_interval_s"}
    if unknown:
        raise ScenarioError(f"site: unknown key(s) {sorted(unknown)}")
    points = raw.get("building_kw", [[0, 0.0]])
    if isinstance(points, int | float) and not isinstance(points, bool):
        points = [[0, points]]
    if not isinstance(points, list) or not all(
            isinstance(p, list) and len(p) == 2 for p in points):
        raise ScenarioError("site.building_kw: expected kW, or a list of [offset_s, kW] pairs")
    steps = tuple((_number(t, "site.building_kw offset"), _number(kw, "site.building_kw kW"))
                  for t, kw in points)
    try:
        return SiteSpec(str(raw.get("name", "site")), steps, _number(
            raw.get("meter_interval_s", 5.0), "site.meter_interval_s"))
    except ValueError as exc:
        raise ScenarioError(f"site: {exc}") from None


def _charger(raw: dict[str, Any], key: str) -> StationGroup:
    known = {"model", "count", "max_charge_kw", "max_discharge_kw", "latency_s",
             "ramp_kw_per_s"}
    unknown = set(raw) - known
    if unknown:
        raise ScenarioError(f"{key}: unknown key(s) {sorted(unknown)}")
    model = raw.get("model", "fe20")
    if model not in CHARGER_MODELS:
        raise ScenarioError(f"{key}.model: unknown charger {model!r}; known: "
                            f"{', '.join(CHARGER_MODELS)}")
    count = raw.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ScenarioError(f"{key}.count: expected a whole number >= 0, got {count!r}")
    overrides = {k: _number(raw[k], f"{key}.{k}") for k in known - {"model", "count"} if k in raw}
    try:
        charger = replace(CHARGER_MODELS[model], **overrides)
    except ValueError as exc:
        raise ScenarioError(f"{key}: {exc}") from None
    return StationGroup(charger, count)


def parse_scenario(data: dict[str, Any]) -> Scenario:
    """Build a scenario from parsed TOML; raises ScenarioError naming the bad key."""
    unknown = set(data) - _TOP
    if unknown:
        raise ScenarioError(f"unknown key(s) {sorted(unknown)}; known: {sorted(_TOP)}")
    kw: dict[str, Any] = {"name": str(data.get("name", "scenario"))}
    if "ocpp" in data:
        if data["ocpp"] not in ("2.0.1", "2.1"):
            raise ScenarioError(f"ocpp: must be \"2.0.1\" or \"2.1\", got {data['ocpp']!r}")
        kw["ocpp"] = data["ocpp"]
    if "authorization" in data:
        if data["authorization"] not in ("none", "rfid"):
            raise ScenarioError(f"authorization: must be \"none\" or \"rfid\", got "
                                f"{data['authorization']!r}")
        kw["authorization"] = data["authorization"]
    if "meter_interval_s" in data:
        kw["meter_interval_s"] = int(_number(data["meter_interval_s"], "meter_interval_s"))
    kw["stations"] = tuple(_charger(raw, f"stations[{i}]")
                           for i, raw in enumerate(data.get("stations", [])))
    if "evs" in data:
        evs = []
        for i, raw in enumerate(data["evs"]):
            unknown = set(raw) - {"model", "share"}
            if unknown:
                # a top-level key written after an [[evs]] table lands in it: say so
                raise ScenarioError(f"evs[{i}]: unknown key(s) {sorted(unknown)} (top-level "
                                    "keys go before the [[stations]] and [[evs]] tables)")
            model = raw.get("model")
            if model not in EV_MODELS:
                raise ScenarioError(f"evs[{i}].model: unknown EV {model!r}; known: "
                                    f"{', '.join(EV_MODELS)}")
            evs.append((EV_MODELS[model], _number(raw.get("share", 1.0), f"evs[{i}].share")))
        if not evs or sum(w for _, w in evs) <= 0:
            raise ScenarioError("evs: needs at least one model with a positive share")
        kw["evs"] = tuple(evs)
    bounds = {"soc": (0.0, 1.0), "floor": (0.0, 1.0), "target_soc": (0.0, 1.0),
              "arrival_s": (0.0, 7 * 86400.0), "stay_h": (0.0, 168.0)}
    for key, (low, high) in bounds.items():
        if key in data:
            kw[key] = Distribution.parse(data[key], key, low, high)
    if "site" in data:
        kw["site"] = _site(data["site"])
    if "weekly" in data:
        kw["weekly"] = _weekly(data["weekly"])
    faults = dict(data.get("faults", {}))
    schedule = faults.pop("schedule", [])
    try:
        kw["faults"] = FaultRates.from_mapping(faults)
        kw["scheduled"] = tuple(
            ScheduledFault(str(s["station"]), str(s["kind"]), _number(s["at_s"], "at_s"))
            for s in schedule)
    except (ValueError, KeyError, TypeError) as exc:
        raise ScenarioError(f"faults: {exc}") from None
    return Scenario(**kw)


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file; raises ScenarioError (with the reason) on any problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"not valid TOML: {exc}") from None
    return parse_scenario(data)
