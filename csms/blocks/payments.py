"""2.1 payment-related requests the CSMS cannot answer meaningfully."""

from __future__ import annotations

from typing import Any

from csms.blocks.station_context import StationContext
from csms.ocppj import OCPPError


async def vat_number_validation(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Refuse with NotSupported: no VAT validation service is connected, and answering Rejected
    would wrongly call the number invalid."""
    raise OCPPError("NotSupported", "VAT number validation is not available on this CSMS")


HANDLERS_V21 = {"VatNumberValidation": vat_number_validation}
