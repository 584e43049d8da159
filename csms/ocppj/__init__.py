"""The OCPP-J RPC layer (OCPP 2.0.1 and 2.1 Part 4): framing, validation, correlation.

A sans-I/O core (:mod:`~csms.ocppj.frames`, :mod:`~csms.ocppj.protocol`) and an asyncio adapter
(:mod:`~csms.ocppj.connection`) used by both the CSMS and the simulated charging stations. It
knows nothing of the database.
"""

from csms.ocppj.connection import Handler, RpcConnection
from csms.ocppj.errors import ERROR_CODES, CallError, CallTimeout, OCPPError
from csms.ocppj.validation import VERSIONS, Validator, get_validator

SUBPROTOCOLS = {"ocpp2.0.1": "2.0.1", "ocpp2.1": "2.1"}

__all__ = [
    "ERROR_CODES",
    "SUBPROTOCOLS",
    "VERSIONS",
    "CallError",
    "CallTimeout",
    "Handler",
    "OCPPError",
    "RpcConnection",
    "Validator",
    "get_validator",
]
