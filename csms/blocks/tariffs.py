"""Functional block I, tariff and cost: what a transaction costs, and the final cost in the
answer to its Ended TransactionEvent (I03).

Cost = kWh imported x energy price - kWh exported x discharge credit, from the transaction's
energy registers as stored (canonical Wh), rounded to the currency's minor unit: negative when
the car gave back more than it took. The running cost during a transaction (I02, CostUpdated)
is sent by :mod:`csms.operations.costs`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from csms.blocks.station_context import StationContext
from csms.store import tariffs
from csms.store.tariffs import CostInputs

#: ISO 4217 currencies whose minor unit is not the cent (the others have two decimals).
MINOR_UNITS = {"BHD": 3, "CLP": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0,
               "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "TND": 3, "UGX": 0, "VND": 0,
               "XAF": 0, "XOF": 0, "XPF": 0}
KWH = Decimal(1000)


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency`` (0.01 for most)."""
    return Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2))


def total_cost(inputs: CostInputs) -> Decimal:
    """The cost of the energy so far under the tariff, rounded to the currency's minor unit
    (half up); negative when the credit for exported energy is the larger."""
    tariff = inputs.tariff
    imported = Decimal(repr(inputs.imported_wh or 0.0)) / KWH
    exported = Decimal(repr(inputs.exported_wh or 0.0)) / KWH
    cost = imported * tariff.energy_price - exported * tariff.credit
    return cost.quantize(minor_unit(tariff.currency), rounding=ROUND_HALF_UP)


async def final_cost(ctx: StationContext, transaction_id: str) -> float | None:
    """The final cost of an ended transaction, recorded as told to the station; None when no
    tariff applies (the answer then leaves totalCost out and the station shows its
    TotalCostFallbackMessage: I03)."""
    inputs = await tariffs.cost_inputs(ctx.pool, ctx.station_id, transaction_id)
    if inputs is None:
        return None
    cost = total_cost(inputs)
    await tariffs.record_final_cost(ctx.pool, ctx.station_id, transaction_id,
                                    inputs.tariff.currency, cost)
    ctx.log.info("transaction_cost", transaction_id=transaction_id, total_cost=str(cost),
                 currency=inputs.tariff.currency)
    return float(cost)
