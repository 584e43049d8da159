"""A plugged-in EV as the dispatcher sees it: the planning record of :mod:`csms.grid`.

Pure data, no I/O. Powers are in kW and energies in kWh throughout ``csms.grid``; export (the
car discharging into the grid) is positive here, unlike OCPP's signed limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from csms.store.grid.records import DEFAULT_ROUND_TRIP


@dataclass(frozen=True)
class EV:
    """One plugged-in vehicle as the dispatcher sees it at a moment.

    ``soc`` and the floor and departure figures are fractions of ``capacity_kwh`` (usable).
    ``departure_soc`` is the state of charge wanted at ``departure``; ``max_discharge_kw`` the
    lower of the charger's and the car's discharge limits, ``max_charge_kw`` the rate it can
    recharge at after the event.
    """

    station_id: str
    evse_id: int
    transaction_id: str
    soc: float
    capacity_kwh: float
    floor_soc: float
    max_discharge_kw: float
    max_charge_kw: float
    departure: datetime | None = None
    departure_soc: float | None = None
    round_trip_efficiency: float = DEFAULT_ROUND_TRIP
    opted_out: bool = False
    id_token: str | None = None
    version: str = "2.0.1"
    nameplate_kw: float | None = None

    @property
    def key(self) -> str:
        """``station/evse``: identifies the EV within an event."""
        return f"{self.station_id}/{self.evse_id}"

    @property
    def one_way_efficiency(self) -> float:
        """Charge (and discharge) efficiency, the square root of the round trip."""
        return math.sqrt(self.round_trip_efficiency)
