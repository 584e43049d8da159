"""A charging station's device model: components, variables, and the Get/Set/Report messages.

Definitions (name, type, mutability, unit) are shared by every station of a kind; each station
keeps only its own values, so thousands of simulated stations stay small.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# (component name, evse id, connector id, variable name, instance)
Key = tuple[str, int | None, int | None, str, str | None]


@dataclass(frozen=True)
class VariableDef:
    """One variable of one component, as the station reports it."""

    key: Key
    data_type: str  # string, decimal, integer, dateTime, boolean, OptionList, MemberList, ...
    mutability: str = "ReadOnly"  # ReadOnly, WriteOnly, ReadWrite
    unit: str | None = None
    values_list: str | None = None
    min_limit: float | None = None
    max_limit: float | None = None
    inventory: bool = False  # part of a SummaryInventory
    monitorable: bool = False  # SetVariableMonitoring may watch it (simulators.monitoring)

    @property
    def component(self) -> dict[str, Any]:
        name, evse, connector, _, _ = self.key
        out: dict[str, Any] = {"name": name}
        if evse is not None:
            out["evse"] = {"id": evse} if connector is None else {"id": evse,
                                                                  "connectorId": connector}
        return out

    @property
    def variable(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.key[3]}
        if self.key[4] is not None:
            out["instance"] = self.key[4]
        return out


def _d(component: str, variable: str, data_type: str, value: str, mutability: str = "ReadOnly",
       *, evse: int | None = None, connector: int | None = None, instance: str | None = None,
       unit: str | None = None, values_list: str | None = None, min_limit: float | None = None,
       max_limit: float | None = None, inventory: bool = False,
       monitorable: bool = False) -> tuple[VariableDef, str]:
    return VariableDef((component, evse, connector, variable, instance), data_type, mutability,
                       unit, values_list, min_limit, max_limit, inventory, monitorable), value


MEASURANDS = ("Energy.Active.Import.Register,Energy.Active.Export.Register,Power.Active.Import,"
              "Power.Active.Export,SoC,Current.Import,Current.Export,Voltage")


#: Monitoring (N02-N07, simulators.monitoring): the controller, and the enclosure temperature
#: the station's thermal model drives.
MONITORING_DEFINITIONS = [
    _d("MonitoringCtrlr", "Enabled", "boolean", "true", "ReadWrite"),
    _d("MonitoringCtrlr", "Available", "boolean", "true"),
    _d("MonitoringCtrlr", "ItemsPerMessageSetVariableMonitoring", "integer", "10"),
    _d("MonitoringCtrlr", "ItemsPerMessageClearVariableMonitoring", "integer", "10"),
    _d("MonitoringCtrlr", "BytesPerMessageSetVariableMonitoring", "integer", "8000"),
    _d("MonitoringCtrlr", "BytesPerMessageClearVariableMonitoring", "integer", "8000"),
    _d("MonitoringCtrlr", "ActiveMonitoringBase", "OptionList", "All",
       values_list="All,FactoryDefault,HardWiredOnly"),
    _d("MonitoringCtrlr", "ActiveMonitoringLevel", "integer", "9", min_limit=0, max_limit=9),
    _d("MonitoringCtrlr", "OfflineQueuingSeverity", "integer", "2", "ReadWrite", min_limit=0,
       max_limit=9),
    _d("TemperatureSensor", "Temperature", "decimal", "25", unit="Celsius", monitorable=True),
]
#: The station states a simulated display can show a message in (not Faulted: the screen of a
#: faulted station shows the fault); 2.0.1 has no variable to say so.
DISPLAY_STATES_201 = ("Charging", "Idle", "Unavailable")
DISPLAY_STATES_21 = (*DISPLAY_STATES_201, "Suspended", "Discharging")


class Schema:
    """Definitions and default values shared by all stations of one kind."""

    def __init__(self, definitions: list[tuple[VariableDef, str]]) -> None:
        self.defs: dict[Key, VariableDef] = {d.key: d for d, _ in definitions}
        self.defaults: dict[Key, str] = {d.key: v for d, v in definitions}
        self.components = frozenset((k[0], k[1], k[2]) for k in self.defs)


@lru_cache(maxsize=64)
def station_schema(version: str, *, vendor: str, model: str, max_charge_w: float,
                   max_discharge_w: float, connector_type: str, heartbeat_s: int,
                   meter_interval_s: int, security_profile: int = 1) -> Schema:
    """The standard variables of a one-EVSE, one-connector bidirectional DC station.

    Cached: stations built with the same figures share one :class:`Schema`.
    """
    on, off = "true", "false"
    defs = [
        _d("ChargingStation", "Model", "string", model, inventory=True),
        _d("ChargingStation", "VendorName", "string", vendor, inventory=True),
        _d("ChargingStation", "AvailabilityState", "OptionList", "Available", inventory=True,
           values_list="Available,Occupied,Reserved,Unavailable,Faulted"),
        _d("ChargingStation", "Available", "boolean", on, inventory=True),
        _d("ChargingStation", "SupplyPhases", "integer", "0"),
        _d("OCPPCommCtrlr", "HeartbeatInterval", "integer", str(heartbeat_s), "ReadWrite",
           unit="s", min_limit=1),
        _d("OCPPCommCtrlr", "MessageTimeout", "integer", "30", instance="Default", unit="s"),
        _d("OCPPCommCtrlr", "MessageAttempts", "integer", "3", "ReadWrite",
           instance="TransactionEvent"),
        _d("OCPPCommCtrlr", "MessageAttemptInterval", "integer", "10", "ReadWrite",
           instance="TransactionEvent", unit="s"),
        _d("OCPPCommCtrlr", "NetworkConfigurationPriority", "SequenceList", "0"),
        _d("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", "integer", "3", "ReadWrite"),
        _d("OCPPCommCtrlr", "OfflineThreshold", "integer", "60", "ReadWrite", unit="s"),
        _d("OCPPCommCtrlr", "ResetRetries", "integer", "2", "ReadWrite"),
        _d("OCPPCommCtrlr", "WebSocketPingInterval", "integer", "0", "ReadWrite", unit="s"),
        _d("OCPPCommCtrlr", "FileTransferProtocols", "MemberList", "HTTP,HTTPS",
           values_list="FTP,FTPS,HTTP,HTTPS,SFTP"),
        _d("SecurityCtrlr", "SecurityProfile", "integer", str(security_profile)),
        # A Basic auth password has 16 to 40 characters; the limits bound its length.
        _d("SecurityCtrlr", "BasicAuthPassword", "string", "", "WriteOnly",
           min_limit=16, max_limit=40),
        _d("SecurityCtrlr", "OrganizationName", "string", "Simulated Fleet", "ReadWrite"),
        _d("SecurityCtrlr", "CertificateEntries", "integer", "0"),
        _d("SecurityCtrlr", "CertSigningWaitMinimum", "integer", "60", "ReadWrite", unit="s",
           min_limit=1),
        _d("SecurityCtrlr", "CertSigningRepeatTimes", "integer", "2", "ReadWrite", min_limit=0),
        _d("AuthCtrlr", "Enabled", "boolean", on, "ReadWrite"),
        _d("AuthCtrlr", "AuthorizeRemoteStart", "boolean", off, "ReadWrite"),
        _d("AuthCtrlr", "LocalAuthorizeOffline", "boolean", on, "ReadWrite"),
        _d("AuthCtrlr", "LocalPreAuthorize", "boolean", off, "ReadWrite"),
        _d("LocalAuthListCtrlr", "Enabled", "boolean", on, "ReadWrite"),
        _d("LocalAuthListCtrlr", "Available", "boolean", on),
        _d("LocalAuthListCtrlr", "Entries", "integer", "0", max_limit=1000),
        _d("LocalAuthListCtrlr", "ItemsPerMessage", "integer", "100"),
        _d("LocalAuthListCtrlr", "BytesPerMessage", "integer", "65000"),
        _d("ReservationCtrlr", "Enabled", "boolean", on, "ReadWrite"),
        _d("ReservationCtrlr", "Available", "boolean", on),
        _d("ReservationCtrlr", "NonEvseSpecific", "boolean", on, "ReadWrite"),
        _d("TxCtrlr", "EVConnectionTimeOut", "integer", "120", "ReadWrite", unit="s"),
        _d("TxCtrlr", "StopTxOnEVSideDisconnect", "boolean", on),
        _d("TxCtrlr", "StopTxOnInvalidId", "boolean", on, "ReadWrite"),
        _d("TxCtrlr", "TxStartPoint", "MemberList", "EVConnected,Authorized", "ReadWrite",
           values_list="ParkingBayOccupancy,EVConnected,Authorized,DataSigned,PowerPathClosed,"
           "EnergyTransfer"),
        _d("TxCtrlr", "TxStopPoint", "MemberList", "EVConnected,Authorized", "ReadWrite",
           values_list="ParkingBayOccupancy,EVConnected,Authorized,DataSigned,PowerPathClosed,"
           "EnergyTransfer"),
        _d("SampledDataCtrlr", "Enabled", "boolean", on, "ReadWrite"),
        _d("SampledDataCtrlr", "TxUpdatedInterval", "integer", str(meter_interval_s),
           "ReadWrite", unit="s", min_limit=0),
        _d("SampledDataCtrlr", "TxUpdatedMeasurands", "MemberList", MEASURANDS, "ReadWrite",
           values_list=MEASURANDS),
        _d("SampledDataCtrlr", "TxStartedMeasurands", "MemberList",
           "Energy.Active.Import.Register,Energy.Active.Export.Register,SoC", "ReadWrite",
           values_list=MEASURANDS),
        _d("SampledDataCtrlr", "TxEndedMeasurands", "MemberList",
           "Energy.Active.Import.Register,Energy.Active.Export.Register,SoC", "ReadWrite",
           values_list=MEASURANDS),
        _d("SampledDataCtrlr", "TxEndedInterval", "integer", "0", "ReadWrite", unit="s"),
        _d("AlignedDataCtrlr", "Interval", "integer", "0", "ReadWrite", unit="s"),
        _d("AlignedDataCtrlr", "Measurands", "MemberList",
           "Energy.Active.Import.Register,Energy.Active.Export.Register", "ReadWrite",
           values_list=MEASURANDS),
        _d("DeviceDataCtrlr", "ItemsPerMessage", "integer", "20", instance="GetReport"),
        _d("DeviceDataCtrlr", "ItemsPerMessage", "integer", "20", instance="GetVariables"),
        _d("DeviceDataCtrlr", "ItemsPerMessage", "integer", "20", instance="SetVariables"),
        _d("DeviceDataCtrlr", "BytesPerMessage", "integer", "65000", instance="GetReport"),
        _d("SmartChargingCtrlr", "Enabled", "boolean", on, "ReadWrite"),
        _d("SmartChargingCtrlr", "Available", "boolean", on),
        _d("SmartChargingCtrlr", "ProfileStackLevel", "integer", "8"),
        _d("SmartChargingCtrlr", "RateUnit", "MemberList", "W,A", values_list="A,W"),
        _d("SmartChargingCtrlr", "PeriodsPerSchedule", "integer", "48"),
        _d("SmartChargingCtrlr", "Entries", "integer", "0", instance="ChargingProfiles",
           max_limit=32),
        _d("SmartChargingCtrlr", "ExternalControlSignalsEnabled", "boolean", off, "ReadWrite"),
        _d("SmartChargingCtrlr", "LimitChangeSignificance", "decimal", "5", "ReadWrite",
           unit="Percent"),
        _d("SmartChargingCtrlr", "Phases3to1", "boolean", off),
        _d("EVSE", "AvailabilityState", "OptionList", "Available", evse=1, inventory=True,
           values_list="Available,Occupied,Reserved,Unavailable,Faulted"),
        _d("EVSE", "Available", "boolean", on, evse=1, inventory=True),
        _d("EVSE", "Power", "decimal", "0", evse=1, unit="W",
           max_limit=max(max_charge_w, max_discharge_w), monitorable=True),
        _d("EVSE", "SupplyPhases", "integer", "0", evse=1),
        _d("EVSE", "AllowReset", "boolean", off, evse=1),
        _d("Connector", "AvailabilityState", "OptionList", "Available", evse=1, connector=1,
           inventory=True, values_list="Available,Occupied,Reserved,Unavailable,Faulted",
           monitorable=True),
        _d("Connector", "Available", "boolean", on, evse=1, connector=1, inventory=True),
        _d("Connector", "ConnectorType", "string", connector_type, evse=1, connector=1,
           inventory=True),
        _d("Connector", "SupplyPhases", "integer", "0", evse=1, connector=1),
        *MONITORING_DEFINITIONS,
        # O: a text display (no HTML, no URI), at most 8 messages at once
        _d("DisplayMessageCtrlr", "Enabled", "boolean", on, "ReadWrite"),
        _d("DisplayMessageCtrlr", "Available", "boolean", on),
        _d("DisplayMessageCtrlr", "DisplayMessages", "integer", "0", max_limit=8),
        _d("DisplayMessageCtrlr", "PersonalMessageSize", "integer", "64"),
        _d("DisplayMessageCtrlr", "SupportedFormats", "MemberList", "ASCII,UTF8",
           values_list="ASCII,UTF8"),
        _d("DisplayMessageCtrlr", "SupportedPriorities", "MemberList",
           "AlwaysFront,InFront,NormalCycle", values_list="AlwaysFront,InFront,NormalCycle"),
        # I: the running and final cost of a transaction on the display
        _d("TariffCostCtrlr", "Enabled", "boolean", on, "ReadWrite"),
        _d("TariffCostCtrlr", "Available", "boolean", on),
        _d("TariffCostCtrlr", "Currency", "string", "USD", "ReadWrite", max_limit=3),
        _d("TariffCostCtrlr", "TariffFallbackMessage", "string", "Ask the operator for prices",
           "ReadWrite", max_limit=255),
        _d("TariffCostCtrlr", "TotalCostFallbackMessage", "string", "Cost not available",
           "ReadWrite", max_limit=255),
    ]
    if version == "2.1":
        defs += [
            _d("DisplayMessageCtrlr", "SupportedStates", "MemberList",
               ",".join(DISPLAY_STATES_21), values_list=",".join(DISPLAY_STATES_21)),
            _d("V2XChargingCtrlr", "Enabled", "boolean", on, "ReadWrite", evse=1),
            _d("V2XChargingCtrlr", "Available", "boolean", on, evse=1),
            _d("V2XChargingCtrlr", "SupportedEnergyTransferModes", "MemberList", "DC,DC_BPT",
               evse=1, values_list="DC,DC_BPT"),
            _d("V2XChargingCtrlr", "SupportedOperationModes", "MemberList",
               "ChargingOnly,Idle,CentralSetpoint", evse=1,
               values_list="ChargingOnly,Idle,CentralSetpoint"),
            _d("V2XChargingCtrlr", "TxStartedMeasurands", "MemberList", MEASURANDS,
               "ReadWrite", evse=1, values_list=MEASURANDS),
            _d("SmartChargingCtrlr", "SupportedAdditionalPurposes", "MemberList", "",
               values_list="PriorityCharging,LocalGeneration"),
            _d("SmartChargingCtrlr", "SupportsDynamicProfiles", "boolean", off),
            _d("SmartChargingCtrlr", "SupportsUseLocalTime", "boolean", off),
        ]
    return Schema(defs)


def _check_value(definition: VariableDef, value: str) -> bool:
    """Whether ``value`` is acceptable for ``definition`` (type, limits, value list)."""
    kind = definition.data_type
    if kind == "boolean":
        return value in ("true", "false")
    if kind in ("integer", "decimal"):
        try:
            number = int(value) if kind == "integer" else float(value)
        except ValueError:
            return False
        if definition.min_limit is not None and number < definition.min_limit:
            return False
        return definition.max_limit is None or number <= definition.max_limit
    if kind in ("OptionList", "MemberList") and definition.values_list is not None:
        allowed = set(definition.values_list.split(","))
        members = [m for m in value.split(",") if m] if kind == "MemberList" else [value]
        return all(m in allowed for m in members)
    low, high = definition.min_limit or 0, definition.max_limit or 2500
    return low <= len(value) <= high


class DeviceModel:
    """One station's values over a shared :class:`Schema`; answers the device-model messages.

    Only values that differ from the schema's defaults are stored per station. ``on_change`` is
    called with (component, variable) after a successful SetVariables so the station can apply
    the new value (heartbeat interval, meter interval, password).
    """

    def __init__(self, schema: Schema,
                 on_change: Callable[[str, str], None] | None = None) -> None:
        self.schema = schema
        self.defs = schema.defs
        self.overrides: dict[Key, str] = {}
        self.on_change = on_change

    def value(self, key: Key) -> str:
        """The current value of a known variable."""
        return self.overrides.get(key, self.schema.defaults[key])

    def get(self, component: str, variable: str, *, evse: int | None = None,
            connector: int | None = None, instance: str | None = None) -> str:
        """The current value (raises KeyError for an unknown variable)."""
        return self.value((component, evse, connector, variable, instance))

    def set(self, component: str, variable: str, value: str, *, evse: int | None = None,
            connector: int | None = None, instance: str | None = None) -> None:
        """Set a value from the station's own side (no mutability check)."""
        key = (component, evse, connector, variable, instance)
        if key not in self.defs:
            raise KeyError(key)
        self.overrides[key] = value

    def resolve(self, component: dict[str, Any], variable: dict[str, Any]
                ) -> tuple[str, Key | None]:
        """("Accepted", key) for a known variable, else (UnknownComponent or UnknownVariable,
        None)."""
        return self._resolve(component, variable)

    def _resolve(self, component: dict[str, Any], variable: dict[str, Any]
                 ) -> tuple[str, Key | None]:
        evse = component.get("evse") or {}
        ckey = (component["name"], evse.get("id"), evse.get("connectorId"))
        if ckey not in self.schema.components:
            return "UnknownComponent", None
        key = (*ckey, variable["name"], variable.get("instance"))
        return ("Accepted", key) if key in self.defs else ("UnknownVariable", None)

    def get_variables(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer a GetVariablesRequest."""
        results = []
        for item in request["getVariableData"]:
            status, key = self._resolve(item["component"], item["variable"])
            result: dict[str, Any] = {"component": item["component"],
                                      "variable": item["variable"]}
            attribute = item.get("attributeType", "Actual")
            if attribute != "Actual":
                result["attributeType"] = attribute
            if key is not None and attribute != "Actual":
                status = "NotSupportedAttributeType"
            elif key is not None and self.defs[key].mutability == "WriteOnly":
                status = "Rejected"
            elif key is not None:
                result["attributeValue"] = self.value(key)
            result["attributeStatus"] = status
            results.append(result)
        return {"getVariableResult": results}

    def set_variables(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer a SetVariablesRequest, applying every accepted value."""
        results = []
        changed: list[tuple[str, str]] = []
        for item in request["setVariableData"]:
            status, key = self._resolve(item["component"], item["variable"])
            attribute = item.get("attributeType", "Actual")
            if key is not None:
                definition = self.defs[key]
                if attribute != "Actual":
                    status = "NotSupportedAttributeType"
                elif definition.mutability == "ReadOnly":
                    status = "Rejected"
                elif not _check_value(definition, item["attributeValue"]):
                    status = "Rejected"
                else:
                    self.overrides[key] = item["attributeValue"]
                    changed.append((key[0], key[3]))
            result: dict[str, Any] = {"component": item["component"],
                                      "variable": item["variable"], "attributeStatus": status}
            if attribute != "Actual":
                result["attributeType"] = attribute
            results.append(result)
        if self.on_change is not None:
            for component, variable in changed:
                self.on_change(component, variable)
        return {"setVariableResult": results}

    def report(self, report_base: str) -> list[dict[str, Any]]:
        """ReportData entries for a GetBaseReport (empty list for an unknown base)."""
        return list(self._report(report_base))

    def _report(self, report_base: str) -> Iterator[dict[str, Any]]:
        for key, definition in self.defs.items():
            if report_base == "SummaryInventory" and not definition.inventory:
                continue
            if report_base == "ConfigurationInventory" and definition.mutability == "ReadOnly":
                continue
            attribute: dict[str, Any] = {"type": "Actual", "mutability": definition.mutability,
                                         "persistent": True, "constant": False}
            if definition.mutability != "WriteOnly":
                attribute["value"] = self.value(key)
            characteristics: dict[str, Any] = {"dataType": definition.data_type,
                                               "supportsMonitoring": definition.monitorable}
            if definition.unit is not None:
                characteristics["unit"] = definition.unit
            if definition.values_list is not None:
                characteristics["valuesList"] = definition.values_list
            if definition.min_limit is not None:
                characteristics["minLimit"] = definition.min_limit
            if definition.max_limit is not None:
                characteristics["maxLimit"] = definition.max_limit
            yield {"component": definition.component, "variable": definition.variable,
                   "variableAttribute": [attribute],
                   "variableCharacteristics": characteristics}
