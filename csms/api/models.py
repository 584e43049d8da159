"""The request and response bodies of the API (OpenAPI is generated from these).

Times are ISO 8601 with an offset (UTC when given without one); powers in kW, energies in kWh
(transactions: Wh, as stations report them); states of charge and other shares are fractions
from 0 to 1.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Model(BaseModel):
    """Base of the models: read from the store's dataclasses by attribute."""

    model_config = ConfigDict(from_attributes=True)


class Page(Model, Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` for the next (null: the end)."""

    items: list[T]
    next_cursor: str | None = Field(
        description="Opaque; give it as ?cursor= to get the next page. Null on the last page.")


# -- stations --------------------------------------------------------------------------------

class Connector(Model):
    """A connector and the last status its station reported for it."""

    connector_id: int
    status: str
    status_at: datetime


class Evse(Model):
    """An EVSE and its connectors."""

    evse_id: int
    connectors: list[Connector]


class StationSummary(Model):
    """A station as listed."""

    id: str
    online: bool = Field(description="A live CSMS node holds the station's socket.")
    ocpp: str | None = Field(description="OCPP version of its last connection: 2.0.1 or 2.1.")
    security_profile: int
    vendor_name: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    boot_status: str | None
    last_boot_at: datetime | None
    last_heartbeat_at: datetime | None
    node_id: str | None
    remote_address: str | None
    connected_at: datetime | None
    disconnected_at: datetime | None
    created_at: datetime


class TransactionSummary(Model):
    """A transaction as listed: energy imported and exported (Wh), duration (s)."""

    station_id: str
    transaction_id: str
    evse_id: int | None
    connector_id: int | None
    id_token: str | None
    started_at: datetime | None
    ended_at: datetime | None
    stopped_reason: str | None
    charging_state: str | None
    last_seq_no: int | None
    offline: bool
    energy_imported_wh: float | None
    energy_exported_wh: float | None
    duration_s: float | None


class StationDetail(StationSummary):
    """A station in full: boot data, EVSEs and connectors, device model size, and the
    transactions running on it."""

    boot_reason: str | None
    modem_iccid: str | None
    modem_imsi: str | None
    evses: list[Evse]
    device_model_variables: int
    device_model_components: int
    transactions: list[TransactionSummary] = Field(
        description="Its transactions that have not ended.")


class StationCreate(Model):
    """A station to register."""

    id: str = Field(min_length=1, max_length=48, examples=["CP-1"])
    password: str | None = Field(
        default=None, min_length=16, max_length=40,
        description="HTTP Basic password (security profiles 1 and 2).")
    generate_password: bool = Field(
        default=False, description="Let the CSMS make one up (returned once) instead.")
    security_profile: int = Field(default=1, ge=0, le=3)


class StationCreated(Model):
    """A registered station; ``password`` only when the CSMS made it up (shown once)."""

    id: str
    security_profile: int
    password: str | None = None


# -- calls and commands ----------------------------------------------------------------------

class CallRequest(Model):
    """Any CSMS-initiated OCPP call: the action and its request payload."""

    action: str = Field(min_length=1, max_length=64, examples=["Reset"])
    payload: dict[str, Any] = Field(default_factory=dict, examples=[{"type": "Immediate"}])


class CallOutcome(Model):
    """How a call ended (``?wait``): the station's response, or why there is none."""

    status: str = Field(description="accepted, rejected (answered with another status), "
                        "queued (still waiting for the offline station)")
    station_status: str | None = Field(
        description="The status word of the station's response, when it has one.")
    reason: str | None
    response: dict[str, Any] | None
    command_ids: list[int]


class CallSubmitted(Model):
    """A call written to the command table; read its outcome at ``/v1/commands/{id}``."""

    command_id: int
    command_ids: list[int] = Field(
        description="Every part, when the station's message limits split the request.")
    status: Literal["pending", "queued"]


class Command(Model):
    """A call as recorded: pending, sent, answered, error (CALLERROR), timeout, offline,
    expired."""

    id: int
    station_id: str
    action: str
    payload: dict[str, Any]
    status: str
    queue_until: datetime | None
    created_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None
    response: dict[str, Any] | None
    error_code: str | None
    error_description: str | None


# -- transactions and meter values ------------------------------------------------------------

class MeterValue(Model):
    """One sampled value, in its measurand's canonical unit."""

    station_id: str
    evse_id: int | None
    transaction_id: str | None
    timestamp: datetime
    measurand: str
    phase: str | None
    location: str
    unit: str | None
    context: str
    value: float
    unit_valid: bool = Field(description="False: the unit did not fit the measurand; stored "
                             "as sent and left out of computations.")


class TransactionEvent(Model):
    """One TransactionEvent as received."""

    seq_no: int
    event_type: str
    timestamp: datetime
    trigger_reason: str
    offline: bool
    charging_state: str | None
    stopped_reason: str | None
    evse_id: int | None
    connector_id: int | None
    id_token: str | None
    received_at: datetime


class TransactionDetail(TransactionSummary):
    """A transaction with its events in (timestamp, seqNo) order and its meter values."""

    id_token_type: str | None
    stop_id_token: str | None
    remote_start_id: int | None
    energy_import_start: float | None
    energy_import_end: float | None
    energy_export_start: float | None
    energy_export_end: float | None
    seq_no_reused: bool
    events: list[TransactionEvent]
    meter_values: list[MeterValue]


# -- charging profiles ------------------------------------------------------------------------

class ProfileRequest(Model):
    """Charge at most ``charge_kw`` (0 pauses) or discharge ``discharge_kw`` on an EVSE."""

    evse: int = Field(ge=0, le=2**31 - 1)
    charge_kw: float | None = Field(default=None, ge=0, le=1_000_000)
    discharge_kw: float | None = Field(default=None, gt=0, le=1_000_000)
    start: datetime | None = Field(default=None, description="Default: now.")
    until: datetime | None = Field(default=None, description="Default: open-ended.")
    purpose: Literal["TxProfile", "TxDefaultProfile", "ChargingStationMaxProfile"] = "TxProfile"
    stack_level: int | None = Field(default=None, ge=0, le=2**31 - 1)


class ProfileResult(Model):
    """The station's answer to a profile request, or what stopped it being sent."""

    accepted: bool
    status: str = Field(description="Accepted, Rejected, Unknown, or Invalid, UnknownStation, "
                        "Offline, CallError, Timeout")
    reason: str | None
    profile_id: int | None
    command_id: int | None


class InstalledProfile(Model):
    """A profile the CSMS believes installed on a station."""

    id: int
    evse: int
    purpose: str
    stack_level: int
    kind: str
    source: str
    transaction_id: str | None
    start: datetime | None
    duration: int | None
    unit: str
    first_limit: float | None
    setpoint: float | None


class Profiles(Model):
    """What the CSMS believes is installed on a station (no call is sent to read it)."""

    station_id: str
    believed: list[InstalledProfile]


# -- webhooks and keys ------------------------------------------------------------------------

class WebhookCreate(Model):
    """A subscription: feed events of ``types`` are POSTed to ``url``, signed with
    ``secret`` (X-CSMS-Signature: sha256=HMAC-SHA256(secret, body) in hex)."""

    url: str = Field(pattern=r"^https?://[^\s]+$", max_length=2000,
                     examples=["https://partner.example/csms-hook"])
    types: list[str] = Field(min_length=1, examples=[["transaction.ended", "event.completed"]])
    secret: str = Field(min_length=16, max_length=200)
    description: str | None = Field(default=None, max_length=200)


class Webhook(Model):
    """A subscription (its secret is never shown again)."""

    id: int
    url: str
    types: list[str]
    description: str | None
    created_at: datetime


class Delivery(Model):
    """One event for one subscription: pending (retried with backoff), delivered or failed
    (given up after a day)."""

    id: int
    event_id: int
    event_type: str | None
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_status: int | None
    last_error: str | None


class ApiKeyCreate(Model):
    """A key to make."""

    name: str = Field(min_length=1, max_length=100)
    scope: Literal["read", "operate", "dispatch", "admin"]


class ApiKeyInfo(Model):
    """A key as stored: never the key itself."""

    id: int
    name: str
    scope: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyInfo):
    """A new key, with the key itself: shown this once."""

    key: str


class Health(Model):
    """``ok`` when the process (healthz) or the database (readyz) is fine."""

    status: str
