"""Messages per second: this CSMS's OCPP-J parse + validate path against the ``ocpp`` package's.

Run: ``python tests/benchmarks/bench_validation.py [--seconds S]``. Both paths start from the
same text frames and end with a validated payload; the ratio is what matters on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from ocpp import messages as ocpp_messages

from csms.ocppj import get_validator
from csms.ocppj.protocol import IncomingCall, RpcProtocol

NOW = "2026-11-25T16:00:00Z"


def meter_values(n: int) -> dict:
    measurands = ["Energy.Active.Import.Register", "Energy.Active.Export.Register",
                  "Power.Active.Import", "Power.Active.Export", "SoC", "Current.Import",
                  "Voltage", "Current.Export", "Power.Offered", "Frequency"]
    return {"evseId": 1, "meterValue": [{"timestamp": NOW, "sampledValue": [
        {"value": 1234.5 + i, "measurand": measurands[i % len(measurands)],
         "context": "Sample.Periodic", "location": "Outlet",
         "unitOfMeasure": {"unit": "Wh"}} for i in range(n)]}]}


PAYLOADS = {
    "BootNotification": {"reason": "PowerUp", "chargingStation": {
        "model": "FE-20", "vendorName": "Fermata Energy", "serialNumber": "FE20-000123",
        "firmwareVersion": "2.4.1"}},
    "MeterValues": meter_values(10),
    "TransactionEvent": {"eventType": "Updated", "timestamp": NOW,
                         "triggerReason": "MeterValuePeriodic", "seqNo": 7,
                         "transactionInfo": {"transactionId": "tx-0001",
                                             "chargingState": "Charging"},
                         "evse": {"id": 1, "connectorId": 1},
                         "meterValue": meter_values(4)["meterValue"]},
}


def rate(fn: Callable[[], None], seconds: float) -> float:
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            fn()
        count += 50
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.5)
    args = parser.parse_args()
    ocpp_messages.ASYNC_VALIDATION = False
    protocol = RpcProtocol(get_validator("2.0.1"), frozenset(PAYLOADS))
    get_validator("2.0.1").warm()
    print(f"{'message':<18}{'bytes':>7}{'ocpp pkg msg/s':>16}{'csms msg/s':>13}{'ratio':>8}")
    for action, payload in PAYLOADS.items():
        text = json.dumps([2, "12345678", action, payload])

        def ours(text: str = text) -> None:
            [event] = protocol.receive(text)
            assert isinstance(event, IncomingCall)

        def package(text: str = text) -> None:
            message = ocpp_messages.unpack(text)
            ocpp_messages._validate_payload(message, "2.0.1")

        theirs = rate(package, args.seconds)
        mine = rate(ours, args.seconds)
        print(f"{action:<18}{len(text):>7}{theirs:>16,.0f}{mine:>13,.0f}{mine / theirs:>7.1f}x")


if __name__ == "__main__":
    main()
