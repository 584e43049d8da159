"""The contract-certificate backend client against a real HTTP service on 127.0.0.1."""

from __future__ import annotations

import pytest

from csms.security.contracts import ContractBackendError, request_contract
from tests.security.services import ContractBackend

REQUEST = {"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef", "action": "Install",
           "exiRequest": "RVhJ", "prioritizedEMAIDs": ["DE*ABC*C123"]}


async def test_the_request_is_forwarded_and_the_answer_read() -> None:
    with ContractBackend() as backend:
        answer = await request_contract(backend.url, "CS-1", REQUEST, timeout=5)
    assert answer.status == "Accepted" and answer.exi_response == "RVhJLXJlc3BvbnNl"
    assert answer.remaining_contracts == 0
    assert backend.received == [{"stationId": "CS-1", **REQUEST}]


async def test_a_failed_answer_keeps_its_reason() -> None:
    def reply(request):
        return 200, {"status": "Failed", "exiResponse": "",
                     "statusInfo": {"reasonCode": "NoContract", "additionalInfo": "unknown"}}

    with ContractBackend(reply) as backend:
        answer = await request_contract(backend.url, "CS-1", REQUEST, timeout=5)
    assert (answer.status, answer.reason_code, answer.additional_info) == (
        "Failed", "NoContract", "unknown")


@pytest.mark.parametrize(("code", "body", "message"), [
    (503, {"error": "down"}, "HTTP 503"),
    (200, "not json", "not JSON"),
    (200, [1, 2], "not an object"),
    (200, {"status": "Maybe", "exiResponse": "x"}, "status 'Maybe'"),
    (200, {"status": "Accepted"}, "no exiResponse"),
    (200, {"status": "Accepted", "exiResponse": "x", "remainingContracts": -1},
     "remainingContracts"),
])
async def test_unusable_answers_are_errors(code: int, body, message: str) -> None:
    with ContractBackend(lambda request: (code, body)) as backend:
        with pytest.raises(ContractBackendError, match=message):
            await request_contract(backend.url, "CS-1", REQUEST, timeout=5)


async def test_only_http_urls_are_asked() -> None:
    with pytest.raises(ContractBackendError, match="not an http"):
        await request_contract("file:///etc/passwd", "CS-1", REQUEST, timeout=5)
