"""Functional block J, meter values: MeterValues, and the sampled values of TransactionEvents."""

from __future__ import annotations

from typing import Any

from csms.blocks.payload import time_field
from csms.blocks.station_context import StationContext
from csms.blocks.units import canonical_value, conversion
from csms.store import batch
from csms.store.metering import MeterSample

DEFAULT_MEASURAND = "Energy.Active.Import.Register"
DEFAULT_CONTEXT = "Sample.Periodic"
DEFAULT_LOCATION = "Outlet"

def samples_from(
    meter_value: list[dict[str, Any]], evse_id: int | None, transaction_id: str | None
) -> list[MeterSample]:
    """One MeterSample per sampledValue, with OCPP defaults filled in and the value in the
    canonical unit of its measurand (see :mod:`csms.blocks.units`), or flagged as not
    convertible (J01, J02)."""
    samples = []
    for i, mv in enumerate(meter_value):
        timestamp = time_field(mv["timestamp"], f"meterValue[{i}].timestamp")
        for sv in mv["sampledValue"]:
            measurand = sv.get("measurand", DEFAULT_MEASURAND)
            unit_of_measure = sv.get("unitOfMeasure")
            if unit_of_measure:
                sent_unit = unit_of_measure.get("unit")
                multiplier = unit_of_measure.get("multiplier")
            else:
                sent_unit = multiplier = None
            how = conversion(measurand, sent_unit)
            samples.append(
                MeterSample(
                    evse_id=evse_id,
                    transaction_id=transaction_id,
                    timestamp=timestamp,
                    measurand=measurand,
                    phase=sv.get("phase"),
                    location=sv.get("location", DEFAULT_LOCATION),
                    unit=how.unit,
                    context=sv.get("context", DEFAULT_CONTEXT),
                    value=canonical_value(sv["value"], multiplier or 0, how),
                    signed_meter_value=sv.get("signedMeterValue"),
                    sent_unit=sent_unit,
                    sent_multiplier=multiplier,
                    unit_valid=how.valid,
                )
            )
    return samples


_WARNED: set[tuple[str, str, str | None]] = set()


def warn_unconvertible(ctx: StationContext, samples: list[MeterSample]) -> None:
    """Log, once per station, measurand and unit (per process), the samples whose unit does not
    fit their measurand: they are stored as sent and left out of every computation."""
    for s in samples:
        if s.unit_valid:
            continue
        key = (ctx.station_id, s.measurand, s.sent_unit)
        if key in _WARNED:
            continue
        if len(_WARNED) >= 10_000:  # bounded: a station sending garbage forever stays cheap
            _WARNED.clear()
        _WARNED.add(key)
        ctx.log.warning("meter_value_unit_mismatch", measurand=s.measurand, unit=s.sent_unit,
                        detail="stored as sent, flagged, left out of computations")


async def meter_values(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Store every sampled value (J01); evseId 0 is the station's main meter."""
    samples = samples_from(payload["meterValue"], payload["evseId"], None)
    warn_unconvertible(ctx, samples)
    # Committed together with other stations' writes, before the answer (group commit).
    await batch.writer(ctx.pool).meter_values(ctx.station_id, samples)
    return {}


HANDLERS = {"MeterValues": meter_values}
