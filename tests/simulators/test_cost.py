"""What the simulated station shows of a transaction's cost."""

from __future__ import annotations

from simulators.cost import CostDisplay
from simulators.devicemodel import DeviceModel, station_schema


def display() -> CostDisplay:
    schema = station_schema("2.1", vendor="V", model="M", max_charge_w=20000,
                            max_discharge_w=20000, connector_type="cG105", heartbeat_s=60,
                            meter_interval_s=10)
    return CostDisplay(DeviceModel(schema))


def _sent(event_type: str, tx: str = "T1") -> dict:
    return {"eventType": event_type, "transactionInfo": {"transactionId": tx}}


def test_running_then_final_cost():
    cost = display()
    assert cost.screen("T1") is None
    assert cost.cost_updated({"transactionId": "T1", "totalCost": 1.5}) == {}
    cost.transaction_answered(_sent("Updated"), {"totalCost": 1.75})  # 2.1 running cost
    cost.transaction_answered(_sent("Updated"), {})
    assert cost.running["T1"] == [1.5, 1.75]
    assert cost.screen("T1") == "Cost so far: 1.75 USD"
    cost.cost_updated({"transactionId": "T1", "totalCost": -0.4})
    assert cost.screen("T1") == "Cost so far: -0.40 USD"
    cost.transaction_answered(_sent("Ended"), {"totalCost": -0.5})
    assert cost.final["T1"] == -0.5 and cost.screen("T1") == "Total: -0.50 USD"


def test_fallback_message_and_disabled_display():
    cost = display()
    cost.transaction_answered(_sent("Ended", "T2"), {"idTokenInfo": {"status": "Accepted"}})
    assert cost.final["T2"] is None and cost.screen("T2") == "Cost not available"
    cost.model.set("TariffCostCtrlr", "Enabled", "false")
    assert cost.screen("T2") is None
