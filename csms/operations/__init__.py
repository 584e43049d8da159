"""Everything the CSMS sends a station: one client (:class:`Operations`) over the command
table with one shared waiter and typed outcomes, and one module per functional block's
CSMS-initiated flows."""

from csms.operations.client import Operations
from csms.operations.outcome import Outcome, Status

__all__ = ["Operations", "Outcome", "Status"]
