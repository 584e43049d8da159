"""One EVSE with one connector: the EV visit, the transaction and its OCPP messages.

No I/O here: every method takes the wall-clock time and returns the messages to send as
``(action, payload)`` pairs; the station decides how and when they reach the CSMS.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from simulators.battery import Battery
from simulators.charger import PowerTrain

Message = tuple[str, dict[str, Any]]
EVSE_ID = 1
CONNECTOR_ID = 1
ACTIVE_KW = 0.05  # below this the power is treated as zero for the charging state


def iso(ts: float) -> str:
    """RFC 3339 UTC timestamp with millisecond precision."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


@dataclass
class EVVisit:
    """A car that arrives, wants some energy, and leaves at its departure time."""

    battery: Battery
    departure_at: float  # wall-clock epoch seconds
    target_soc: float = 0.8
    id_token: str = "SIMTOKEN"
    token_type: str = "ISO14443"


def _same(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Two idTokens are the same: one value in any case, one type."""
    return a is not None and b is not None and (
        str(a["idToken"]).lower(), a["type"]) == (str(b["idToken"]).lower(), b["type"])


@dataclass(frozen=True)
class Reservation:
    """What a ReserveNowRequest asked for (simulators.reservations keeps them)."""

    id: int
    id_token: dict[str, Any]
    group_id_token: dict[str, Any] | None
    expires_at: float

    def admits(self, id_token: dict[str, Any], group_id_token: dict[str, Any] | None) -> bool:
        """H03: the token it is kept for, or any token of its group (H03.FR.07)."""
        return _same(id_token, self.id_token) or _same(group_id_token, self.group_id_token)


@dataclass
class Transaction:
    """The station's view of one transaction."""

    transaction_id: str
    seq_no: int = 0
    authorized: bool = False
    charging_state: str = "EVConnected"
    remote_start_id: int | None = None
    charging_since: float | None = None
    time_charging_s: float = 0.0
    id_token: dict[str, str] | None = None

    def next_seq(self) -> int:
        """The seqNo for the next TransactionEvent of this transaction (0, 1, 2, ...)."""
        seq, self.seq_no = self.seq_no, self.seq_no + 1
        return seq


@dataclass
class Evse:
    """EVSE 1, connector 1: a power train, the car plugged in (if any) and its transaction."""

    train: PowerTrain
    version: str
    measurands: list[str] = field(default_factory=list)
    started_measurands: list[str] = field(default_factory=list)
    ended_measurands: list[str] = field(default_factory=list)
    noise: float = 0.0
    #: "Wh": energy registers in Wh and power in W; "kWh": in kWh and kW, as much field
    #: firmware reports them.
    energy_unit: str = "Wh"
    rng: random.Random = field(default_factory=random.Random)
    visit: EVVisit | None = None
    tx: Transaction | None = None
    operative: bool = True
    #: the reservation that holds the EVSE: a car plugged in starts no transaction until the
    #: token it is kept for comes (simulators.reservations)
    reservation: Reservation | None = None
    faulted: bool = False
    requested_kw: float | None = None

    @property
    def connector_status(self) -> str:
        """Available, Occupied, Reserved, Unavailable or Faulted, as a StatusNotification
        reports it. A reserved connector stays Reserved when a car is plugged in (G03.FR.09)."""
        if not self.operative:
            return "Unavailable"
        if self.faulted:
            return "Faulted"
        if self.reservation is not None:
            return "Reserved"
        return "Occupied" if self.visit is not None or self.tx is not None else "Available"

    def status_notification(self, now: float) -> Message:
        """The StatusNotification for the connector's present state."""
        return ("StatusNotification", {
            "timestamp": iso(now), "connectorStatus": self.connector_status,
            "evseId": EVSE_ID, "connectorId": CONNECTOR_ID})

    # -- transaction events -------------------------------------------------------------

    def _event(self, event_type: str, trigger: str, now: float, *,
               meter: list[dict[str, Any]] | None = None, **info: Any) -> Message:
        tx = self.tx
        assert tx is not None
        payload: dict[str, Any] = {
            "eventType": event_type, "timestamp": iso(now), "triggerReason": trigger,
            "seqNo": tx.next_seq(),
            "transactionInfo": {"transactionId": tx.transaction_id,
                                "chargingState": tx.charging_state, **info},
        }
        if event_type == "Started":
            payload["evse"] = {"id": EVSE_ID, "connectorId": CONNECTOR_ID}
            if tx.remote_start_id is not None:
                payload["transactionInfo"]["remoteStartId"] = tx.remote_start_id
        if meter:
            payload["meterValue"] = meter
        return ("TransactionEvent", payload)

    def start_transaction(self, now: float, trigger: str, *,
                          remote_start_id: int | None = None,
                          id_token: dict[str, str] | None = None,
                          reservation_id: int | None = None) -> list[Message]:
        """Begin a transaction (E02: on cable plug-in; F01: on RequestStartTransaction; H03:
        when the token a reservation was kept for is presented).

        A token known at the start (remote start, or a station without authorization) is sent
        in the Started event and the transaction is authorized from the outset; so is the
        reservation it uses.
        """
        self.tx = Transaction(transaction_id=str(uuid.uuid4()), remote_start_id=remote_start_id,
                              authorized=id_token is not None, id_token=id_token)
        message = self._event("Started", trigger, now,
                              meter=self.meter_values(now, "Transaction.Begin",
                                                      self.started_measurands))
        if id_token is not None:
            message[1]["idToken"] = id_token
        if reservation_id is not None:
            message[1]["reservationId"] = reservation_id
        return [message]

    def authorize(self, now: float, id_token: dict[str, str], trigger: str,
                  reservation_id: int | None = None) -> list[Message]:
        """Record the authorization and send it with an Updated event; a token that uses a
        reservation starts the transaction the reserved EVSE held back (H03)."""
        tx = self.tx
        if tx is None and reservation_id is not None and self.visit is not None:
            return self.start_transaction(now, trigger, id_token=id_token,
                                          reservation_id=reservation_id)
        if tx is None or tx.authorized:
            return []
        tx.authorized = True
        tx.id_token = id_token
        message = self._event("Updated", trigger, now)
        message[1]["idToken"] = id_token
        return [message]

    def end_transaction(self, now: float, trigger: str, reason: str,
                        battery: Battery | None = None) -> list[Message]:
        """End the running transaction (E06 stop points); power stops at once.

        ``battery`` is the car just unplugged, whose registers the Ended event still reports.
        """
        tx = self.tx
        if tx is None:
            return []
        self._account_charging_time(now)
        self.train.command(0.0)
        tx.charging_state = "EVConnected" if self.visit is not None else "Idle"
        message = self._event("Ended", trigger, now,
                              meter=self.meter_values(now, "Transaction.End",
                                                      self.ended_measurands, battery),
                              stoppedReason=reason,
                              timeSpentCharging=int(tx.time_charging_s))
        message[1]["transactionInfo"].pop("remoteStartId", None)
        self.tx = None
        return [message]

    def _account_charging_time(self, now: float) -> None:
        tx = self.tx
        if tx is not None and tx.charging_since is not None:
            tx.time_charging_s += now - tx.charging_since
            tx.charging_since = now if tx.charging_state == "Charging" else None

    # -- the car ------------------------------------------------------------------------

    def plug_in(self, visit: EVVisit, now: float) -> list[Message]:
        """A car arrives: status Occupied, a transaction, its charging needs.

        A visit with token type NoAuthorization needs no Authorize: its transaction starts
        authorized. At a reserved EVSE the transaction waits for the reservation's token.
        """
        self.visit = visit
        self.train.plug(visit.battery)
        out: list[Message] = [self.status_notification(now)]
        if self.tx is not None:  # a remotely started transaction was waiting for the cable
            self.tx.charging_state = "EVConnected"
            out.append(self._event("Updated", "CablePluggedIn", now))
        elif self.reservation is None:
            token = ({"idToken": visit.id_token, "type": visit.token_type}
                     if visit.token_type == "NoAuthorization" else None)
            out += self.start_transaction(now, "CablePluggedIn", id_token=token)
        out.append(self.charging_needs(now))
        return out

    def unplug(self, now: float, trigger: str = "EVDeparted") -> list[Message]:
        """The car leaves: the transaction ends (StopTxOnEVSideDisconnect), connector frees.

        The Ended event carries the meter registers as they stood when the cable came out.
        """
        battery = self.train.unplug()
        self.visit = None
        out = self.end_transaction(now, trigger, "EVDisconnected", battery)
        out.append(self.status_notification(now))
        return out

    def fault(self, now: float) -> list[Message]:
        """The connector fails: power stops, a running transaction ends, status Faulted."""
        self.faulted = True
        out = self.end_transaction(now, "AbnormalCondition", "Other")
        out.append(self.status_notification(now))
        return out

    def charging_needs(self, now: float) -> Message:
        """NotifyEVChargingNeeds with departure time and energy (2.1: V2X parameters)."""
        visit = self.visit
        assert visit is not None
        battery = visit.battery
        spec = self.train.charger
        volts = self.train.voltage_v
        max_charge_w = int(min(spec.max_charge_kw, battery.spec.max_charge_kw) * 1000)
        max_discharge_w = int(min(spec.max_discharge_kw, battery.spec.max_discharge_kw) * 1000)
        dc = {"evMaxCurrent": int(max_charge_w / volts), "evMaxVoltage": int(spec.max_voltage_v),
              "evMaxPower": max_charge_w,
              "energyAmount": int(battery.energy_to_reach_wh(visit.target_soc)),
              "stateOfCharge": round(battery.soc * 100),
              "evEnergyCapacity": int(battery.capacity_wh), "fullSoC": 100, "bulkSoC": 80}
        needs: dict[str, Any] = {"departureTime": iso(visit.departure_at),
                                 "dcChargingParameters": dc}
        if self.version == "2.1":
            needs["requestedEnergyTransfer"] = "DC_BPT"
            needs["availableEnergyTransfer"] = ["DC", "DC_BPT"]
            needs["controlMode"] = "ScheduledControl"
            floor_wh = battery.floor_wh - battery.stored_wh  # positive: below the V2X range
            needs["v2xChargingParameters"] = {
                "minChargePower": 0, "maxChargePower": max_charge_w,
                "minDischargePower": 0, "maxDischargePower": max_discharge_w,
                "evTargetEnergyRequest": int(battery.energy_to_reach_wh(visit.target_soc)),
                "evMinEnergyRequest": int(floor_wh),
                "evMaxEnergyRequest": int(battery.energy_to_reach_wh(1.0)),
                "evMinV2XEnergyRequest": int(floor_wh),
                "evMaxV2XEnergyRequest": int(battery.energy_to_reach_wh(1.0)),
                "targetSoC": round(visit.target_soc * 100),
            }
        else:
            needs["requestedEnergyTransfer"] = "DC"
        return ("NotifyEVChargingNeeds", {"evseId": EVSE_ID, "chargingNeeds": needs})

    # -- control ------------------------------------------------------------------------

    def wanted_kw(self) -> float:
        """What the EVSE asks of the power train now, given the schedule and the car."""
        visit, tx = self.visit, self.tx
        if (visit is None or tx is None or not tx.authorized or not self.operative
                or self.faulted):
            return 0.0
        requested = self.requested_kw
        if requested is None or requested > 0:
            if visit.battery.soc >= visit.target_soc:
                return 0.0
            cap = self.train.charger.max_charge_kw
            return cap if requested is None else min(requested, cap)
        return requested

    def control(self, now: float, *, stuck: bool = False) -> list[Message]:
        """Command the power train and report a changed charging state (ChargingStateChanged)."""
        wanted = self.wanted_kw()
        self.train.command(0.0 if stuck else wanted)
        tx = self.tx
        if tx is None:
            return []
        max_dis, max_chg = self.train.limits_kw()
        if not tx.authorized or self.visit is None:
            state = "EVConnected" if self.visit is not None else "Idle"
        elif wanted == 0.0 and self.requested_kw == 0.0:
            state = "SuspendedEVSE"
        elif wanted == 0.0 or (wanted > 0 and max_chg <= 0) or (wanted < 0 and max_dis <= 0):
            state = "SuspendedEV"
        else:
            state = "Charging"
        if state == tx.charging_state:
            return []
        self._account_charging_time(now)
        tx.charging_state = state
        tx.charging_since = now if state == "Charging" else None
        return [self._event("Updated", "ChargingStateChanged", now)]

    def discharge_shortfall_kw(self) -> float:
        """How much less than the requested discharge the car delivers (0 when met or idle).

        The request is first capped at the charger's own rating: asking an FE-20 for 50 kW is
        met by 20 kW.
        """
        requested = self.requested_kw
        if self.tx is None or self.visit is None or requested is None or requested >= 0:
            return 0.0
        target = max(requested, -self.train.charger.max_discharge_kw)
        return max(0.0, self.train.power_kw - target)

    def setpoint_event(self, now: float, event_id: int, failing: bool) -> Message:
        """NotifyEvent saying the requested discharge is not met (or, cleared, met again)."""
        battery = self.train.battery
        soc = f"{battery.soc * 100:.1f}" if battery else "-"
        requested_w = -(self.requested_kw or 0.0) * 1000
        delivering_w = -self.train.power_kw * 1000
        event: dict[str, Any] = {
            "eventId": event_id, "timestamp": iso(now), "trigger": "Alerting",
            "actualValue": f"{delivering_w:.0f}", "cleared": not failing,
            "eventNotificationType": "HardWiredNotification",
            "component": {"name": "EVSE", "evse": {"id": EVSE_ID}},
            "variable": {"name": "Power"}, "techCode": "SetpointNotMet",
            "techInfo": f"requested discharge {requested_w:.0f} W, delivering "
                        f"{delivering_w:.0f} W, SoC {soc} %",
        }
        if self.tx is not None:
            event["transactionId"] = self.tx.transaction_id
        return ("NotifyEvent", {"generatedAt": iso(now), "seqNo": 0, "eventData": [event]})

    # -- metering -----------------------------------------------------------------------

    def meter_values(self, now: float, context: str, measurands: list[str] | None = None,
                     battery: Battery | None = None) -> list[dict[str, Any]]:
        """One MeterValue with the given (default: TxUpdated) measurands, in W, Wh, A, V, %
        (kW and kWh with ``energy_unit`` kWh: the same figures to the same Wh precision).

        The registers are those of ``battery``, else of the car plugged in or visiting.
        """
        train = self.train
        if battery is None:
            battery = train.battery if train.battery is not None else (
                self.visit.battery if self.visit else None)
        power_w = train.power_kw * 1000.0
        if self.noise and power_w:
            power_w *= 1.0 + self.rng.gauss(0.0, self.noise)
        current = abs(power_w) / train.voltage_v if train.voltage_v else 0.0
        readings: dict[str, tuple[float, str, str | None]] = {
            "Power.Active.Import": (max(power_w, 0.0) + 0.0, "W", None),
            "Power.Active.Export": (max(-power_w, 0.0) + 0.0, "W", None),
            "Current.Import": (current if power_w > 0 else 0.0, "A", None),
            "Current.Export": (current if power_w < 0 else 0.0, "A", None),
            "Voltage": (train.voltage_v, "V", None),
        }
        if battery is not None:
            readings["Energy.Active.Import.Register"] = (battery.import_wh, "Wh", None)
            readings["Energy.Active.Export.Register"] = (battery.export_wh, "Wh", None)
            readings["SoC"] = (battery.soc * 100.0, "Percent", "EV")
        sampled = []
        for measurand in self.measurands if measurands is None else measurands:
            if measurand not in readings:
                continue
            value, unit, location = readings[measurand]
            value = round(value, 3)
            if self.energy_unit == "kWh" and unit in ("W", "Wh"):
                value, unit = float(Decimal(repr(value)).scaleb(-3)), "k" + unit
            item: dict[str, Any] = {"value": value, "measurand": measurand,
                                    "context": context, "unitOfMeasure": {"unit": unit}}
            if location is not None:
                item["location"] = location
            sampled.append(item)
        return [{"timestamp": iso(now), "sampledValue": sampled}] if sampled else []

    def periodic_update(self, now: float, trigger: str = "MeterValuePeriodic") -> list[Message]:
        """A TransactionEvent Updated carrying a meter sample (J02, every TxUpdatedInterval)."""
        if self.tx is None:
            return []
        context = "Trigger" if trigger == "Trigger" else "Sample.Periodic"
        return [self._event("Updated", trigger, now, meter=self.meter_values(now, context))]
