"""What an EV says it needs (NotifyEVChargingNeedsRequest), reduced to the figures we plan with.

Energy in Wh and power in W, whichever parameter block the EV sent: DC, AC (current times
voltage times phases) or the 2.1 V2X block with its discharge limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.smartcharging.fields import (
    ProfileFormatError,
    check_version,
    parse_datetime,
    read_int,
    read_number,
    read_object,
)

_AC_PHASES = {"AC_single_phase": 1, "AC_two_phase": 2, "AC_three_phase": 3}


@dataclass(frozen=True)
class ChargingNeed:
    """The EV's need on one EVSE. Absent figures are None.

    ``max_discharge_power_w`` and ``min_v2x_energy_wh`` come from 2.1 v2xChargingParameters
    (``evMinV2XEnergyRequest``: the energy the EV must keep above, in Wh, relative to now).
    """

    evse_id: int
    energy_transfer: str
    departure: datetime | None
    energy_wh: float | None
    max_power_w: float | None
    max_discharge_power_w: float | None = None
    min_v2x_energy_wh: float | None = None
    max_v2x_energy_wh: float | None = None
    state_of_charge: int | None = None
    target_soc: int | None = None
    max_schedule_tuples: int | None = None


def _number(obj: Mapping[str, Any], key: str, path: str) -> float | None:
    return read_number(obj[key], f"{path}.{key}") if key in obj else None


def parse_charging_needs(
    payload: Mapping[str, Any], version: str, *, voltage: float = 230.0
) -> ChargingNeed:
    """Read a NotifyEVChargingNeedsRequest payload; raise ProfileFormatError naming the field.

    For AC, the maximum power is evMaxCurrent x ``voltage`` x the phases of the requested
    transfer. A 2.1 V2X block overrides energy and power figures where it gives them.
    """
    check_version(version)
    obj = read_object(payload, "NotifyEVChargingNeedsRequest")
    if "evseId" not in obj or "chargingNeeds" not in obj:
        missing = "evseId" if "evseId" not in obj else "chargingNeeds"
        raise ProfileFormatError(missing, "required field is missing")
    needs = read_object(obj["chargingNeeds"], "chargingNeeds")
    if "requestedEnergyTransfer" not in needs:
        raise ProfileFormatError("chargingNeeds.requestedEnergyTransfer",
                                 "required field is missing")
    transfer = needs["requestedEnergyTransfer"]
    departure = needs.get("departureTime")
    energy = power = soc = None
    if "dcChargingParameters" in needs:
        path = "chargingNeeds.dcChargingParameters"
        dc = read_object(needs["dcChargingParameters"], path)
        energy = _number(dc, "energyAmount", path)
        power = _number(dc, "evMaxPower", path)
        if power is None and "evMaxCurrent" in dc and "evMaxVoltage" in dc:
            power = _number(dc, "evMaxCurrent", path) * _number(dc, "evMaxVoltage", path)
        soc = read_int(dc["stateOfCharge"], f"{path}.stateOfCharge") if "stateOfCharge" in dc \
            else None
    if "acChargingParameters" in needs:
        path = "chargingNeeds.acChargingParameters"
        ac = read_object(needs["acChargingParameters"], path)
        energy = _number(ac, "energyAmount", path)
        current = _number(ac, "evMaxCurrent", path)
        if current is not None:
            power = current * voltage * _AC_PHASES.get(transfer, 3)
    discharge = min_v2x = max_v2x = target = None
    if "v2xChargingParameters" in needs:
        path = "chargingNeeds.v2xChargingParameters"
        v2x = read_object(needs["v2xChargingParameters"], path)
        energy = _number(v2x, "evTargetEnergyRequest", path) or energy
        power = _number(v2x, "maxChargePower", path) or power
        discharge = _number(v2x, "maxDischargePower", path)
        min_v2x = _number(v2x, "evMinV2XEnergyRequest", path)
        max_v2x = _number(v2x, "evMaxV2XEnergyRequest", path)
        target = read_int(v2x["targetSoC"], f"{path}.targetSoC") if "targetSoC" in v2x else None
    tuples = obj.get("maxScheduleTuples")
    return ChargingNeed(
        evse_id=read_int(obj["evseId"], "evseId"),
        energy_transfer=str(transfer),
        departure=None if departure is None else parse_datetime(
            departure, "chargingNeeds.departureTime"),
        energy_wh=energy,
        max_power_w=power,
        max_discharge_power_w=None if discharge is None else abs(discharge),
        min_v2x_energy_wh=min_v2x,
        max_v2x_energy_wh=max_v2x,
        state_of_charge=soc,
        target_soc=target,
        max_schedule_tuples=None if tuples is None else read_int(tuples, "maxScheduleTuples"),
    )
