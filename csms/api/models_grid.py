"""Request and response bodies of the grid routes: fleet capacity, programs, events and
their reports, drivers' settings."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, Literal

from pydantic import Field

from csms.api.models import Model


class EvCapacity(Model):
    """What one plugged-in EV can give over the window."""

    ev: str = Field(description="station/evse")
    soc: float
    keep_soc: float
    departure: datetime | None
    kw: float
    kwh: float
    note: str | None


class Capacity(Model):
    """The plugged-in fleet's export capacity over a window, and the firm figure to nominate
    (capacity less a reserve)."""

    start: datetime
    until: datetime
    evs: int
    eligible: int
    capacity_kw: float
    reserve_kw: float
    firm_kw: float
    energy_kwh: float
    committed_kw: float = Field(default=0.0, description=(
        "What the EVs other events hold over the window could have given (not offered)."))
    by_ev: list[EvCapacity]


class EvseForecast(Model):
    """One EVSE over a future window, from its history."""

    evse: str = Field(description="station/evse")
    chance: float = Field(description="Chance of a car being plugged in for all of the window.")
    soc: float = Field(description="SoC expected then (fraction).")
    kw_if_there: float = Field(description="What that SoC holds over the window above the "
                               "program's floor, capped by the charger.")
    expected_kw: float


class PluginForecast(Model):
    """What the fleet can hold over a future window, from the stored sessions: each EVSE's
    chance of being plugged in and its SoC by hour of week (``csms fleet forecast``)."""

    program: str
    start: datetime
    until: datetime
    evses: int
    expected_kw: float = Field(description="The mean of the Monte Carlo draws.")
    firm_p90_kw: float = Field(description="Held with 90 % probability (the draws' 10th "
                               "percentile).")
    weeks_of_history: int
    by_evse: list[EvseForecast]


class NominationBlock(Model):
    """One candidate event block of the month."""

    start: datetime
    until: datetime
    expected_kw: float
    firm_p90_kw: float


class Nomination(Model):
    """A suggested DSGS monthly nomination (``csms programs nominate``): the mean of the firm
    (P90) kW over every candidate event block of the month."""

    program: str
    month: str = Field(examples=["2026-07"])
    suggested_kw: float
    worst_block_p90_kw: float
    best_block_p90_kw: float
    blocks: int
    weeks_of_history: int
    dsgs_rate_per_kw_month: float | None = Field(description=(
        "The month's $/kW-month rate (the program's own, else DSGS 2025's); null when "
        "unknown."))
    dsgs_minimum_kw: float = Field(description="DSGS aggregations start at this many kW.")
    below_dsgs_minimum: bool
    by_block: list[NominationBlock]


class Program(Model):
    """A demand-response program: event window, baseline, compensation, control settings
    (fields as ``csms programs add``; shares and SoCs as fractions)."""

    name: str = Field(min_length=1, max_length=64)
    baseline: Literal["zero", "meter-before-after", "prescriptive"] = "zero"
    baseline_percent: float = Field(default=10.8, ge=0)
    compensation: Literal["per-kwh", "dsgs"] = "per-kwh"
    rate_per_kwh: float = Field(default=0.0, ge=0)
    monthly_rates: dict[str, float] = Field(default_factory=dict)
    driver_share: float = Field(default=0.8, ge=0, le=1)
    floor_soc: float = Field(default=0.2, ge=0, le=1)
    departure_soc: float | None = Field(default=None, ge=0, le=1)
    control_interval_s: int = Field(default=30, ge=1, le=3600)
    settle_s: float = Field(default=20.0, gt=0)
    event_meter_interval_s: int = Field(default=5, ge=1)
    retry_s: float = Field(default=300.0, ge=1, le=86400)
    reserve_fraction: float = Field(default=0.05, ge=0, le=1)
    window_start: time | None = None
    window_end: time | None = None
    timezone: str = "UTC"
    max_duration_s: int | None = Field(default=None, ge=1)
    default_capacity_kwh: float = Field(default=39.0, gt=0)
    default_charger_kw: float = Field(default=20.0, gt=0)
    round_trip_efficiency: float = Field(default=0.87, ge=0.3, le=1)
    priority: int = Field(default=0, ge=-1000, le=1000, description=(
        "Overlapping events of several programs: the higher priority is served first."))
    allocator: Literal["optimised", "equal-headroom"] = "optimised"
    wear_cost_per_kwh: float = Field(default=0.05, ge=0, description=(
        "Battery wear, $ per kWh cycled, that the optimiser weighs."))
    solve_budget_s: float = Field(default=1.0, ge=0.01, le=60)


class Event(Model):
    """A grid event: a request for export between start and end (target null: as much as
    the fleet can give)."""

    id: int
    program: str
    status: str = Field(description="scheduled, active, completed or cancelled")
    start: datetime
    end: datetime
    target_kw: float | None
    forecast_kw: float | None
    firm_kw: float | None
    shortfall_kw: float | None
    group: str | None
    nomination_kw: float | None
    external_id: str | None
    activated_at: datetime | None
    finished_at: datetime | None
    note: str | None


class EventEv(Model):
    """An EV of an event: taking part (in), excluded or set aside, and its setpoint."""

    station_id: str
    evse_id: int
    state: str
    reason: str | None = None
    soc_start: float | None = None
    floor_soc: float | None = None
    departure_at: datetime | None = None
    joined_at: datetime | None = None
    setpoint_kw: float | None = None


class EventDetail(Event):
    """An event with its EVs and its last control step."""

    steps: int
    last_step: dict[str, Any] | None
    evs: list[EventEv]


class EventCreate(Model):
    """An event to schedule: give ``target_kw`` or ``max``, and ``end`` or ``duration_s``."""

    start: datetime
    end: datetime | None = None
    duration_s: float | None = Field(default=None, gt=0, le=7 * 86400)
    target_kw: float | None = Field(default=None, gt=0, lt=1e7)
    max: bool = Field(default=False, description="As much as the fleet can give.")
    program: str | None = Field(default=None, max_length=64,
                                description="Default: the program 'default'.")
    group: str | None = Field(default=None, max_length=64)


class EventCreated(Event):
    """A new event with the capacity forecast it was created with."""

    eligible_evs: int
    reserve_kw: float


class Imported(Model):
    """What importing one timeslot of a dispatch did: created, updated, unchanged,
    cancelled, or closed (the event is over; the change is ignored)."""

    external_id: str
    event_id: int
    action: str
    shortfall_kw: float | None


class Interval(Model):
    """One measurement interval of an event's report (kW: averages over the interval)."""

    start: datetime
    end: datetime
    target_kw: float | None
    delivered_kwh: float
    delivered_kw: float
    baseline_kw: float
    net_kw: float
    performance: float | None
    by_station_kwh: dict[str, float]


class DriverResult(Model):
    """What one EV gave in an event and what its driver earns."""

    key: str
    id_token: str | None
    energy_kwh: float
    earnings: float
    soc_start: float | None
    soc_end: float | None


class MonthlyCapacity(Model):
    """DSGS: the month's demonstrated capacity and payment."""

    month: str
    hours: int
    demonstrated_kw: float
    rate_per_kw_month: float | None
    payment: float | None


class Report(Model):
    """An event's measurement and verification report (``csms events report --json``)."""

    event: dict[str, Any]
    program: dict[str, Any]
    start: datetime
    end: datetime
    participants: int
    energy_kwh: float
    average_kw: float
    baseline_kw: float
    net_kw: float
    performance: float | None
    payment: float | None
    forecast_kw: float | None
    shortfall_kw: float | None
    intervals: list[Interval]
    hourly: list[Interval]
    month: MonthlyCapacity | None
    drivers: list[DriverResult]
    set_aside: dict[str, str]


class Driver(Model):
    """A driver's wishes for the vehicle behind a token or at a station (SoCs as
    fractions)."""

    kind: Literal["token", "station"]
    key: str
    floor_soc: float | None
    departure: time | None
    timezone: str
    need_soc: float | None
    need_kwh: float | None
    capacity_kwh: float | None
    opt_out: bool


class DriverUpdate(Model):
    """A driver's settings (they replace earlier ones). What the EV itself reports
    (NotifyEVChargingNeeds) takes precedence over departure and need."""

    floor_soc: float | None = Field(default=None, ge=0, le=1)
    departure: time | None = Field(default=None, description="Usual departure, local time.")
    timezone: str = Field(default="UTC", max_length=64)
    need_soc: float | None = Field(default=None, ge=0, le=1)
    need_kwh: float | None = Field(default=None, ge=0, le=10_000)
    capacity_kwh: float | None = Field(default=None, gt=0, le=10_000)
    opt_out: bool = False


class SiteIn(Model):
    """A grid connection and its limits (``export_kw`` 0: non-export)."""

    name: str = Field(min_length=1, max_length=64)
    import_kw: float = Field(ge=0, lt=1e7)
    export_kw: float = Field(ge=0, lt=1e7)
    meter_station_id: str | None = Field(default=None, max_length=255, description=(
        "Station whose EVSE 0 main meter measures the grid connection."))


class SiteAllocation(Model):
    """One EVSE's share of a site's import room (``evse`` 0: a station with no car)."""

    station: str
    evse: int
    transaction: str | None
    kind: Literal["charging", "event", "uncontrolled", "idle"] = Field(description=(
        "charging: shared by the site controller; event: held for a grid event's plan; "
        "uncontrolled: its station does not hold the cap (offline, refused), counted as it "
        "stands; idle: no car, an allowance for the next arrival"))
    share_kw: float
    want_kw: float
    minimum_kw: float = Field(description="The rate that meets its departure need in time.")
    measured_kw: float | None
    cap_kw: float | None = Field(description="The station cap it holds (all its EVSEs).")
    cap_status: Literal["accepted", "pending", "refused"] | None


class SiteControl(Model):
    """The site controller's latest plan: the room under the import limit (limit less the
    building's load less a margin), what is allocated and the headroom left."""

    planned_at: datetime | None
    room_kw: float | None
    allocated_kw: float | None
    headroom_kw: float | None
    plan_trigger: str | None = None
    planned_building_kw: float | None = None
    allocations: list[SiteAllocation]


class Site(SiteIn):
    """A site with its stations, the building's load measured now, and the site controller's
    latest plan."""

    non_export: bool
    stations: list[str]
    building_kw: float
    building_source: Literal["meter", "imported", "unknown"]
    building_at: datetime | None
    control: SiteControl


class SiteStations(Model):
    """Stations to put at a site (each moves from any other site)."""

    stations: list[str] = Field(min_length=1, max_length=10_000)


class BuildingReading(Model):
    """The building's load (without the chargers) from a time on."""

    at: datetime
    building_kw: float = Field(ge=0, lt=1e7)


class BuildingLoad(Model):
    """Building-load readings to import."""

    readings: list[BuildingReading] = Field(min_length=1, max_length=100_000)
