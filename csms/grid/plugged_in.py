"""The plugged-in fleet as :class:`~csms.grid.ev.EV` records: what each EV reported
(NotifyEVChargingNeeds, SoC meter values), else its driver's settings, else the program's
defaults."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from csms.grid.ev import EV
from csms.ocppj import version_of
from csms.smartcharging import ChargingNeed, ProfileFormatError, parse_charging_needs
from csms.store.db import Db
from csms.store.grid.fleet import (
    PluggedIn,
    driver_settings_for,
    event_opt_outs,
    plugged_in,
)
from csms.store.grid.records import DriverSettings, Program


def next_departure(settings: DriverSettings, now: datetime) -> datetime | None:
    """The next time the driver's daily departure time comes round after ``now``."""
    if settings.departure is None:
        return None
    zone = ZoneInfo(settings.timezone)
    local = now.astimezone(zone)
    candidate = local.replace(hour=settings.departure.hour, minute=settings.departure.minute,
                              second=0, microsecond=0)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate


def _need(row: PluggedIn, version: str) -> ChargingNeed | None:
    if not row.charging_needs:
        return None
    try:
        return parse_charging_needs({"evseId": row.evse_id, "chargingNeeds": row.charging_needs},
                                    version)
    except ProfileFormatError:
        return None


def build_ev(row: PluggedIn, program: Program, settings: DriverSettings | None,
             now: datetime, *, opted_out: bool = False) -> tuple[EV | None, str | None]:
    """The EV of a running transaction, or (None, reason) when its SoC is unknown.

    Precedence for each figure: what the EV reported, then the driver's settings, then the
    program. The floor is the higher of the driver's (or program's) and the EV's own (2.1
    evMinV2XEnergyRequest).
    """
    version = version_of(row.subprotocol)
    need = _need(row, version)
    dc = (row.charging_needs or {}).get("dcChargingParameters") or {}
    capacity = dc.get("evEnergyCapacity")
    capacity_kwh = (capacity / 1000.0 if isinstance(capacity, int | float) and capacity > 0
                    else settings.capacity_kwh if settings and settings.capacity_kwh
                    else program.default_capacity_kwh)
    soc_at_need = None if need is None or need.state_of_charge is None \
        else need.state_of_charge / 100.0
    if row.soc_percent is not None:
        soc = row.soc_percent / 100.0
    elif soc_at_need is not None:
        soc = soc_at_need
    else:
        return None, "SoC unknown"
    soc = min(1.0, max(0.0, soc))
    floor = settings.floor_soc if settings and settings.floor_soc is not None \
        else program.floor_soc
    if need is not None and need.min_v2x_energy_wh is not None and soc_at_need is not None:
        floor = max(floor, soc_at_need + need.min_v2x_energy_wh / 1000.0 / capacity_kwh)
    eta = program.round_trip_efficiency ** 0.5
    departure = need.departure if need is not None else None
    departure_soc = None
    if need is not None and need.target_soc is not None:
        departure_soc = need.target_soc / 100.0
    elif need is not None and need.energy_wh is not None and soc_at_need is not None:
        departure_soc = soc_at_need + need.energy_wh * eta / 1000.0 / capacity_kwh
    if departure is None and settings is not None:
        departure = next_departure(settings, now)
    if departure_soc is None and settings is not None:
        if settings.need_soc is not None:
            departure_soc = settings.need_soc
        elif settings.need_kwh is not None:
            departure_soc = settings.need_kwh / capacity_kwh
    if departure_soc is None:
        departure_soc = program.departure_soc
    charge_kw = (need.max_power_w / 1000.0 if need is not None and need.max_power_w
                 else program.default_charger_kw)
    discharge_kw = (need.max_discharge_power_w / 1000.0
                    if need is not None and need.max_discharge_power_w else charge_kw)
    return EV(
        station_id=row.station_id, evse_id=row.evse_id, transaction_id=row.transaction_id,
        soc=soc, capacity_kwh=capacity_kwh, floor_soc=min(1.0, floor),
        max_discharge_kw=discharge_kw, max_charge_kw=charge_kw, departure=departure,
        departure_soc=None if departure_soc is None else min(1.0, departure_soc),
        round_trip_efficiency=program.round_trip_efficiency,
        opted_out=opted_out or bool(settings and settings.opt_out), id_token=row.id_token,
        version=version, nameplate_kw=discharge_kw), None


async def load_fleet(db: Db, program: Program, now: datetime, *, group: str | None = None,
                     event_id: int | None = None, stations: Sequence[str] | None = None
                     ) -> list[tuple[PluggedIn, EV | None, str | None]]:
    """Every running transaction (of ``group``, of ``stations``) with its EV, or None and why
    it cannot be used."""
    opt_outs = await event_opt_outs(db, event_id) if event_id is not None else set()
    rows = await plugged_in(db, group, stations)
    # One query for every EV's settings rather than one or two per EV at each control step.
    wanted: list[tuple[str, str]] = []
    for row in rows:
        if row.online:
            if row.id_token:
                wanted.append(("token", row.id_token))
            wanted.append(("station", row.station_id))
    drivers = await driver_settings_for(db, wanted)
    out: list[tuple[PluggedIn, EV | None, str | None]] = []
    for row in rows:
        if not row.online:
            # A transaction the station left open while it is not connected: nothing to control.
            out.append((row, None, "station offline"))
            continue
        settings = None
        if row.id_token:
            settings = drivers.get(("token", row.id_token))
        if settings is None:
            settings = drivers.get(("station", row.station_id))
        opted = ("station", row.station_id) in opt_outs or (
            row.id_token is not None and ("token", row.id_token.lower()) in opt_outs)
        ev, reason = build_ev(row, program, settings, now, opted_out=opted)
        out.append((row, ev, reason))
    return out


async def usable_evs(db: Db, program: Program, now: datetime, *, group: str | None = None,
                     event_id: int | None = None) -> list[EV]:
    """The EVs of :func:`load_fleet` whose state is known."""
    return [ev for _, ev, _ in await load_fleet(db, program, now, group=group,
                                                event_id=event_id) if ev is not None]
