"""Block C: Authorize answers from the stored ID tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from csms.store import tokens


def _authorize(token: str, type_: str = "ISO14443") -> dict:
    return {"idToken": {"idToken": token, "type": type_}}


async def test_tc_c_02_unknown_token_is_unknown(call):
    response = await call("Authorize", _authorize("NOT-IN-STORE"))
    assert response == {"idTokenInfo": {"status": "Unknown"}}


@pytest.mark.parametrize("status", ["Invalid", "Blocked"])
async def test_tc_c_02_and_c_06_stored_status_is_answered(pool: asyncpg.Pool, call, status):
    await tokens.add_token(pool, "TAG-1", status=status)
    response = await call("Authorize", _authorize("TAG-1"))
    assert response["idTokenInfo"]["status"] == status


async def test_tc_c_07_token_past_its_expiry_is_expired(pool: asyncpg.Pool, call):
    expired = datetime.now(UTC) - timedelta(days=1)
    await tokens.add_token(pool, "TAG-OLD", expires_at=expired)
    info = (await call("Authorize", _authorize("TAG-OLD")))["idTokenInfo"]
    assert info["status"] == "Expired"
    assert info["cacheExpiryDateTime"].endswith("Z")


async def test_tc_c_39_group_id_is_returned(pool: asyncpg.Pool, call):
    future = datetime.now(UTC) + timedelta(days=30)
    await tokens.add_token(pool, "TAG-A", group_id_token="FLEET-7", expires_at=future)
    info = (await call("Authorize", _authorize("tag-a")))["idTokenInfo"]
    assert info["status"] == "Accepted"
    assert info["groupIdToken"] == {"idToken": "FLEET-7", "type": "Central"}


async def test_token_of_another_type_is_unknown(pool: asyncpg.Pool, call):
    await tokens.add_token(pool, "TAG-1", "ISO14443")
    response = await call("Authorize", _authorize("TAG-1", "eMAID"))
    assert response["idTokenInfo"]["status"] == "Unknown"


@pytest.mark.parametrize("registered,presented", [("ISO14443", "ISO15693"),
                                                   ("ISO15693", "ISO14443")])
async def test_rfid_card_is_found_under_either_rfid_type(pool: asyncpg.Pool, call, registered,
                                                         presented):
    await tokens.add_token(pool, "04A2B3C4", registered, status="Blocked")
    response = await call("Authorize", _authorize("04A2B3C4", presented))
    assert response["idTokenInfo"]["status"] == "Blocked"


async def test_no_authorization_token_is_accepted(call):
    response = await call("Authorize", _authorize("", "NoAuthorization"))
    assert response["idTokenInfo"]["status"] == "Accepted"
