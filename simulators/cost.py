"""What a simulated station shows of a transaction's cost (I02, I03): the running cost the CSMS
sends with CostUpdated (or, in 2.1, with the answer to an Updated TransactionEvent) and the final
cost in the answer to the Ended one, in the station's TariffCostCtrlr.Currency; without a final
cost, its TotalCostFallbackMessage.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from simulators.devicemodel import DeviceModel

if TYPE_CHECKING:
    from simulators.port import StationPort

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class CostDisplay:
    """The costs a station was told, by transaction."""

    def __init__(self, model: DeviceModel) -> None:
        self.model = model
        #: transaction id -> every running cost received, in order
        self.running: dict[str, list[float]] = {}
        #: transaction id -> final cost (None: the CSMS gave none)
        self.final: dict[str, float | None] = {}

    def enabled(self) -> bool:
        """Whether the station shows costs at all (TariffCostCtrlr.Enabled)."""
        return self.model.get("TariffCostCtrlr", "Enabled") == "true"

    def cost_updated(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Answer a CostUpdated: keep the running cost of its transaction."""
        self.running.setdefault(payload["transactionId"], []).append(payload["totalCost"])
        return {}

    def transaction_answered(self, sent: dict[str, Any], response: dict[str, Any]) -> None:
        """Take the cost from the CSMS's answer to a TransactionEvent."""
        tx = sent["transactionInfo"]["transactionId"]
        if sent["eventType"] == "Ended":
            self.final[tx] = response.get("totalCost")
        elif "totalCost" in response:  # 2.1: the running cost of an Updated event
            self.running.setdefault(tx, []).append(response["totalCost"])

    def screen(self, transaction_id: str) -> str | None:
        """What the display says of the transaction's cost (None: nothing)."""
        if not self.enabled():
            return None
        currency = self.model.get("TariffCostCtrlr", "Currency")
        if transaction_id in self.final:
            total = self.final[transaction_id]
            if total is None:
                return self.model.get("TariffCostCtrlr", "TotalCostFallbackMessage")
            return f"Total: {total:.2f} {currency}"
        costs = self.running.get(transaction_id)
        return None if not costs else f"Cost so far: {costs[-1]:.2f} {currency}"


def cost_handlers(station: StationPort) -> dict[str, Handler]:
    """The station's answer to CostUpdated."""

    async def cost_updated(payload: dict[str, Any]) -> dict[str, Any]:
        return station.cost.cost_updated(payload)

    return {"CostUpdated": cost_updated}
