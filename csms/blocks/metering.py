"""Functional block J, meter values: MeterValues, and the sampled values of TransactionEvents."""

from __future__ import annotations

import functools
from typing import Any

from csms.blocks.context import StationContext
from csms.blocks.wire import time_field
from csms.store import batch
from csms.store.metering import MeterSample

DEFAULT_MEASURAND = "Energy.Active.Import.Register"
DEFAULT_CONTEXT = "Sample.Periodic"
DEFAULT_LOCATION = "Outlet"

# The spec's default unit is Wh, which only fits energy registers; other measurands sent without
# a unitOfMeasure get the unit they are reported in by convention (longest prefix wins).
_DEFAULT_UNITS = (
    ("Energy.Reactive", "varh"),
    ("Energy.Apparent", "kVAh"),
    ("Energy", "Wh"),
    ("Power.Reactive", "var"),
    ("Power.Factor", None),
    ("Power", "W"),
    ("Current", "A"),
    ("Voltage", "V"),
    ("SoC", "Percent"),
    ("Frequency", "Hz"),
    ("Temperature", "Celsius"),
)


@functools.lru_cache(maxsize=128)  # measurands are a schema enum: a few dozen names
def default_unit(measurand: str) -> str | None:
    """The unit assumed for ``measurand`` when a sampled value has no unitOfMeasure."""
    for prefix, unit in _DEFAULT_UNITS:
        if measurand.startswith(prefix):
            return unit
    return None


def samples_from(
    meter_value: list[dict[str, Any]], evse_id: int | None, transaction_id: str | None
) -> list[MeterSample]:
    """One MeterSample per sampledValue, with OCPP defaults filled in and the value scaled by
    its multiplier (J01, J02)."""
    samples = []
    for i, mv in enumerate(meter_value):
        timestamp = time_field(mv["timestamp"], f"meterValue[{i}].timestamp")
        for sv in mv["sampledValue"]:
            measurand = sv.get("measurand", DEFAULT_MEASURAND)
            unit_of_measure = sv.get("unitOfMeasure") or {}
            multiplier = unit_of_measure.get("multiplier", 0)
            # Looked up only when missing: this runs for every sampled value.
            unit = unit_of_measure["unit"] if "unit" in unit_of_measure else default_unit(measurand)
            samples.append(
                MeterSample(
                    evse_id=evse_id,
                    transaction_id=transaction_id,
                    timestamp=timestamp,
                    measurand=measurand,
                    phase=sv.get("phase"),
                    location=sv.get("location", DEFAULT_LOCATION),
                    unit=unit,
                    context=sv.get("context", DEFAULT_CONTEXT),
                    value=float(sv["value"]) * 10.0**multiplier,
                    signed_meter_value=sv.get("signedMeterValue"),
                )
            )
    return samples


async def meter_values(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Store every sampled value (J01); evseId 0 is the station's main meter."""
    samples = samples_from(payload["meterValue"], payload["evseId"], None)
    # Committed together with other stations' writes, before the answer (group commit).
    await batch.writer(ctx.pool).meter_values(ctx.station_id, samples)
    return {}


HANDLERS = {"MeterValues": meter_values}
