"""Customer information (N09 get, N10 clear): ask a station what it holds about one customer
(an idToken, a customer identifier or a customer certificate), optionally have it cleared, and
collect the NotifyCustomerInformation parts it reports."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from csms.operations.answers import answer_of
from csms.operations.client import DEFAULT_TIMEOUT, Operations
from csms.operations.outcome import Outcome, Status, refused
from csms.store import diagnostics
from csms.store.diagnostics import CustomerRequest

ACTION = "CustomerInformation"


@dataclass(frozen=True)
class Customer:
    """Whom the request is about: exactly one of an idToken (with its type), a customer
    identifier, or a customer certificate (CertificateHashDataType)."""

    id_token: str | None = None
    id_token_type: str = "ISO14443"
    customer_identifier: str | None = None
    certificate: dict[str, str] | None = None

    def problem(self) -> str | None:
        """Why the request cannot name this customer, or None."""
        given = [x for x in (self.id_token, self.customer_identifier, self.certificate)
                 if x is not None]
        if len(given) != 1:
            return "name exactly one of an idToken, a customer identifier or a certificate"
        return None

    def wire(self) -> dict[str, Any]:
        """The request's fields that name the customer."""
        if self.id_token is not None:
            return {"idToken": {"idToken": self.id_token, "type": self.id_token_type}}
        if self.customer_identifier is not None:
            return {"customerIdentifier": self.customer_identifier}
        return {"customerCertificate": dict(self.certificate or {})}


@dataclass(frozen=True)
class CustomerResult:
    """The call's outcome, its requestId, and the request with the data reported (None when
    nothing was sent)."""

    outcome: Outcome
    request_id: int | None = None
    request: CustomerRequest | None = None


async def customer_information(
    ops: Operations, station_id: str, customer: Customer, *, report: bool = True,
    clear: bool = False, timeout: float = DEFAULT_TIMEOUT, poll_s: float = 0.2,
) -> CustomerResult:
    """CustomerInformation; with ``report`` the NotifyCustomerInformation parts are awaited
    (within ``timeout`` seconds in all) and returned joined."""
    problem = customer.problem()
    if problem is not None:
        return CustomerResult(refused(Status.INVALID, problem))
    pool = ops.pool
    request_id = await diagnostics.next_request_id(pool)
    payload = {"requestId": request_id, "report": report, "clear": clear, **customer.wire()}
    checked = await ops.check(station_id, ACTION, payload)
    if isinstance(checked, Outcome):
        return CustomerResult(checked)
    await diagnostics.add_customer_request(
        pool, station_id, request_id, report=report, clear=clear, id_token=customer.id_token,
        id_token_type=customer.id_token_type if customer.id_token is not None else None,
        customer_identifier=customer.customer_identifier,
        customer_certificate=customer.certificate)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    outcome = await ops.call(station_id, ACTION, payload, timeout=timeout, checked=True)
    await diagnostics.record_customer_answer(
        pool, station_id, request_id, answer_of(outcome), outcome.reason,
        outcome.command_ids[0] if outcome.command_ids else None)
    while outcome.ok and report:
        found = await diagnostics.customer_request(pool, station_id, request_id)
        if (found is not None and found.complete) or loop.time() >= deadline:
            break
        await asyncio.sleep(poll_s)
    return CustomerResult(outcome, request_id,
                          await diagnostics.customer_request(pool, station_id, request_id))
