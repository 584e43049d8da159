"""The stored records of grid dispatch: programs, events, driver settings, register samples.

Pure data, no I/O: :mod:`csms.store.grid` keeps them and :mod:`csms.grid` works with them.
Powers are in kW and energies in kWh; export (the car discharging into the grid) is positive
here, unlike OCPP's signed limits.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass, field
from datetime import datetime, time

EVENT_STATUSES = ("scheduled", "active", "completed", "cancelled")
BASELINES = ("zero", "meter-before-after", "prescriptive")
COMPENSATIONS = ("per-kwh", "dsgs")

#: Round trip of a LEAF on a bidirectional CHAdeMO unit (Utrecht V2G study: 87 % on average).
DEFAULT_ROUND_TRIP = 0.87


class GridInputError(ValueError):
    """A program, event or driver setting that cannot be used; the message names the field."""


#: What a program's display message may show, as ``{name}``: the driver's earnings so far
#: (``{earned}``, e.g. 1.25), the net energy the car gave (``{kwh}``, e.g. 3.4), and the
#: event's end (``{until}``, HH:MM UTC).
DISPLAY_FIELDS = ("earned", "kwh", "until")
#: The longest display message (MessageContentType.content in OCPP 2.0.1).
DISPLAY_MESSAGE_MAX = 512


def check_display_template(template: str) -> None:
    """Raise GridInputError unless ``template`` is a display message with only
    :data:`DISPLAY_FIELDS` in braces (``{{`` and ``}}`` for literal braces)."""
    if not 1 <= len(template) <= DISPLAY_MESSAGE_MAX:
        raise GridInputError(f"display_message must be 1 to {DISPLAY_MESSAGE_MAX} characters")
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        raise GridInputError("display_message: a { or } without its pair (write {{ or }} for "
                             "a brace itself)") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in DISPLAY_FIELDS or spec or conversion:
            raise GridInputError(
                f"display_message: {{{name}{'!' + conversion if conversion else ''}"
                f"{':' + spec if spec else ''}}} is not one of "
                + ", ".join("{" + f + "}" for f in DISPLAY_FIELDS))


def _check_fraction(value: float | None, name: str) -> None:
    if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise GridInputError(f"{name} must be between 0 and 1, got {value}")


def _check_positive(value: float | None, name: str, *, allow_zero: bool = False) -> None:
    if value is None:
        return
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise GridInputError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")


@dataclass(frozen=True)
class Program:
    """The rules of a demand-response program.

    ``window_start``/``window_end`` (local time of day in ``timezone``) bound when its events may
    run; None allows any time. ``baseline`` is one of :data:`BASELINES`; ``baseline_percent``
    is the prescriptive baseline as a percentage of nameplate discharge kW. ``compensation`` is
    ``per-kwh`` (``rate_per_kwh`` $ per exported kWh) or ``dsgs`` ($/kW-month of demonstrated
    capacity, the month's rate from ``monthly_rates`` or the built-in DSGS table).
    ``driver_share`` is the fraction of the payment passed to drivers. ``control_interval_s``
    is the closed loop's period; ``settle_s`` how long a charger gets to reach a new setpoint
    before it is judged (latency plus ramp); ``event_meter_interval_s`` the meter-value
    interval stations are set to during an event; ``retry_s`` how long an EV set aside during
    an event (a refused profile, no meter values, not following, offline) waits before it is
    given another chance, twice as long after each further failure. ``display_message``,
    when set, is shown to each driver taking part in an event with their earnings so far
    (a template of :data:`DISPLAY_FIELDS`).
    """

    name: str
    baseline: str = "zero"
    baseline_percent: float = 10.8
    compensation: str = "per-kwh"
    rate_per_kwh: float = 0.0
    monthly_rates: dict[str, float] = field(default_factory=dict)
    driver_share: float = 0.8
    floor_soc: float = 0.2
    departure_soc: float | None = None
    control_interval_s: int = 30
    settle_s: float = 20.0
    event_meter_interval_s: int = 5
    retry_s: float = 300.0
    reserve_fraction: float = 0.05
    window_start: time | None = None
    window_end: time | None = None
    timezone: str = "UTC"
    max_duration_s: int | None = None
    default_capacity_kwh: float = 39.0
    default_charger_kw: float = 20.0
    round_trip_efficiency: float = DEFAULT_ROUND_TRIP
    display_message: str | None = None

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 64:
            raise GridInputError("name must be 1 to 64 characters")
        if self.baseline not in BASELINES:
            raise GridInputError(f"baseline must be one of {', '.join(BASELINES)}, "
                                 f"got {self.baseline}")
        if self.compensation not in COMPENSATIONS:
            raise GridInputError(f"compensation must be one of {', '.join(COMPENSATIONS)}, "
                                 f"got {self.compensation}")
        _check_positive(self.baseline_percent, "baseline_percent", allow_zero=True)
        _check_positive(self.rate_per_kwh, "rate_per_kwh", allow_zero=True)
        for name in ("driver_share", "floor_soc", "departure_soc", "reserve_fraction"):
            _check_fraction(getattr(self, name), name)
        if not 1 <= self.control_interval_s <= 3600:
            raise GridInputError(f"control_interval_s must be 1 to 3600, got "
                                 f"{self.control_interval_s}")
        if not 0 < self.settle_s < self.control_interval_s:
            raise GridInputError(f"settle_s must be positive and below control_interval_s "
                                 f"({self.control_interval_s}), got {self.settle_s}")
        if not 1 <= self.event_meter_interval_s <= self.control_interval_s:
            raise GridInputError("event_meter_interval_s must be 1 to control_interval_s, got "
                                 f"{self.event_meter_interval_s}")
        if not 1 <= self.retry_s <= 86400:
            raise GridInputError(f"retry_s must be 1 to 86400, got {self.retry_s}")
        _check_positive(self.default_capacity_kwh, "default_capacity_kwh")
        _check_positive(self.default_charger_kw, "default_charger_kw")
        if not 0.3 <= self.round_trip_efficiency <= 1.0:
            raise GridInputError("round_trip_efficiency must be between 0.3 and 1")
        if (self.window_start is None) != (self.window_end is None):
            raise GridInputError("window_start and window_end go together")
        for month, rate in self.monthly_rates.items():
            _check_positive(rate, f"monthly_rates[{month}]", allow_zero=True)
        if self.display_message is not None:
            check_display_template(self.display_message)


@dataclass(frozen=True)
class GridEvent:
    """A request for export power between ``start`` and ``end``.

    ``target_kw`` None means "as much as possible". ``group`` restricts the event to a station
    group. ``revision`` grows with every change so the dispatcher applies changes at its next
    control step.
    """

    id: int
    program: str
    start: datetime
    end: datetime
    target_kw: float | None
    status: str = "scheduled"
    group: str | None = None
    nomination_kw: float | None = None
    external_id: str | None = None
    revision: int = 0


@dataclass(frozen=True)
class DriverSettings:
    """A driver's wishes for the vehicle at a station or behind a token.

    ``departure`` is a daily local time of day (``timezone``); ``need_soc`` or ``need_kwh`` the
    charge wanted at departure; ``opt_out`` excludes the vehicle from every event.
    """

    kind: str
    key: str
    floor_soc: float | None = None
    departure: time | None = None
    timezone: str = "UTC"
    need_soc: float | None = None
    need_kwh: float | None = None
    capacity_kwh: float | None = None
    opt_out: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("token", "station"):
            raise GridInputError(f"kind must be token or station, got {self.kind}")
        _check_fraction(self.floor_soc, "floor")
        _check_fraction(self.need_soc, "need SoC")
        _check_positive(self.need_kwh, "need kWh", allow_zero=True)
        _check_positive(self.capacity_kwh, "capacity")


@dataclass(frozen=True)
class RegisterSample:
    """Both energy registers of one EVSE at one time, in Wh."""

    at: datetime
    export_wh: float
    import_wh: float
