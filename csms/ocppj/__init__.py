"""The OCPP-J RPC layer (OCPP 2.0.1 and 2.1 Part 4): framing, validation, correlation.

A sans-I/O core (:mod:`~csms.ocppj.frames`, :mod:`~csms.ocppj.protocol`) and an asyncio adapter
(:mod:`~csms.ocppj.connection`) used by both the CSMS and the simulated charging stations. It
knows nothing of the database.
"""

from csms.ocppj.actions import CSMS_INITIATED, MASK, SECRET_VARIABLES, sent_by_csms
from csms.ocppj.connection import Handler, RpcConnection
from csms.ocppj.errors import ERROR_CODES, CallError, CallTimeout, OCPPError
from csms.ocppj.validation import VERSIONS, Validator, get_validator

SUBPROTOCOLS = {"ocpp2.0.1": "2.0.1", "ocpp2.1": "2.1"}
#: The version assumed for a station whose subprotocol is not known (it never connected).
DEFAULT_VERSION = "2.0.1"


def version_of(subprotocol: str | None) -> str:
    """The OCPP version of a negotiated websocket subprotocol (2.0.1 when none is known)."""
    return SUBPROTOCOLS.get(subprotocol or "", DEFAULT_VERSION)


__all__ = [
    "CSMS_INITIATED",
    "DEFAULT_VERSION",
    "ERROR_CODES",
    "MASK",
    "SECRET_VARIABLES",
    "SUBPROTOCOLS",
    "VERSIONS",
    "CallError",
    "CallTimeout",
    "Handler",
    "OCPPError",
    "RpcConnection",
    "Validator",
    "get_validator",
    "sent_by_csms",
    "version_of",
]
