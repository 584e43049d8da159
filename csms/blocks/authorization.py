"""Functional block C, authorization: Authorize, and the idTokenInfo that TransactionEvent
responses carry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from csms.blocks import contracts
from csms.blocks.payload import iso
from csms.blocks.station_context import StationContext
from csms.store import tokens
from csms.store.db import Db
from csms.store.tokens import TokenRecord

# Token types that carry no identifier to check (C01: "NoAuthorization" means no authorization
# is needed, e.g. free charging).
_ALWAYS_ACCEPTED_TYPES = frozenset({"NoAuthorization"})


def token_info(record: TokenRecord | None, id_token: dict[str, Any], now: datetime) -> dict:
    """The IdTokenInfoType for ``id_token``, given what the CSMS stores about it.

    Unknown tokens are ``Unknown`` (TC_C_02); a stored Accepted token past its expiry is
    ``Expired`` (TC_C_07); the token's group is returned as groupIdToken (C09, TC_C_39).
    """
    if id_token["type"] in _ALWAYS_ACCEPTED_TYPES:
        return {"status": "Accepted"}
    if record is None:
        return {"status": "Unknown"}
    status = record.status
    if status == "Accepted" and record.expires_at is not None and record.expires_at <= now:
        status = "Expired"
    info: dict[str, Any] = {"status": status}
    if record.expires_at is not None:
        # C10.FR.08: the station may cache the token's status until this time.
        info["cacheExpiryDateTime"] = iso(record.expires_at)
    if record.group_id_token is not None:
        info["groupIdToken"] = {
            "idToken": record.group_id_token,
            "type": record.group_token_type or "Central",
        }
    if record.language is not None:
        info["language1"] = record.language
    return info


# Card readers report the UID of an RFID card as ISO14443 or ISO15693 whatever the card is
# (docs/interop.md): a card registered under one of the two is found under the other.
_RFID_TYPES = ("ISO14443", "ISO15693")


async def lookup_token_info(db: Db, id_token: dict[str, Any]) -> dict[str, Any]:
    """Look ``id_token`` up in the store and return its IdTokenInfoType."""
    record = None
    token_type = id_token["type"]
    if token_type not in _ALWAYS_ACCEPTED_TYPES:
        record = await tokens.get_token(db, id_token["idToken"], token_type)
        if record is None and token_type in _RFID_TYPES:
            other = _RFID_TYPES[1 - _RFID_TYPES.index(token_type)]
            record = await tokens.get_token(db, id_token["idToken"], other)
    return token_info(record, id_token, datetime.now(UTC))


async def authorize(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Answer whether the token may charge (C01, C09), and with a contract certificate
    (ISO 15118 Plug & Charge) what the certificate allows (C07, see :mod:`contracts`)."""
    info = await lookup_token_info(ctx.pool, payload["idToken"])
    response: dict[str, Any] = {"idTokenInfo": info}
    verdict = await contracts.check_contract(ctx.pool, payload, info["status"])
    if verdict is not None:
        # C07.FR.13 to C07.FR.17: a revoked, expired or unverifiable certificate decides the
        # token's status too; a valid one leaves it as the token's own.
        info["status"] = verdict.token_status
        response["certificateStatus"] = verdict.certificate_status
        ctx.log.info("authorize_contract", certificate_status=verdict.certificate_status,
                     detail=verdict.detail)
    ctx.log.info("authorize", status=info["status"])
    return response


HANDLERS = {"Authorize": authorize}
