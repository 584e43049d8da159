"""What the parts of a simulated station (firmware, diagnostics, monitoring, certificates, the
display, the cost) use of the station they belong to: typed against this, they need not import
:mod:`simulators.station`, which builds them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from simulators.devicemodel import DeviceModel
    from simulators.evse import Evse, Message
    from simulators.stationconfig import StationConfig, StationStats


class StationPort(Protocol):
    """The station's side that its parts call (:class:`simulators.station.Station`)."""

    id: str
    version: str
    config: StationConfig
    model: DeviceModel
    evse: Evse
    stats: StationStats
    log: Any
    online: bool
    boot_reason: str
    reset_kind: str | None
    reconnect_now: bool
    #: the parts that other parts show through (the display, the cost)
    cost: Any
    display: Any

    @property
    def url(self) -> str: ...

    def wake(self) -> None: ...

    def enqueue(self, messages: list[Message]) -> None: ...

    async def request(self, action: str, payload: dict[str, Any],
                      timeout: float | None = None) -> dict[str, Any]: ...
