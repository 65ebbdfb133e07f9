"""The monitor's underlying exits: close the strategy when the index has moved too far (or far
enough) from its level at entry (``domain.underlying_exit`` says which way is which).

The reference level is taken when the book is armed (the entry settled); if the index could not be
read then, the first level the monitor reads is the reference (an event says so). A crossing
closes the whole strategy exactly as an MTM exit does: every guard exits (its stop cancelled
first), positions no guard covers get exit-only guards, all under the book's claim and the close
lease, so it never races the exit at T or a kill switch.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from chalicelib.domain.records import PositionRecord
from chalicelib.domain.underlying_exit import underlying_exit
from chalicelib.services.order_sender import stamp

if TYPE_CHECKING:
    from chalicelib.services.risk_step import BookStep

SCOPE = "underlying"


def reference(spot: Decimal | None, at: str) -> dict[str, dict[str, str]]:
    """The book's ``mtm`` mark of the reference level at arming (none: the first cycle's)."""
    return {} if spot is None else {SCOPE: {"entry": str(spot), "at": at}}


def watch_underlying(
    step: BookStep, positions: Sequence[PositionRecord], spot: Decimal | None
) -> None:
    book = step.book
    marks = book.mtm or {"peak": {}, "exited": {}}
    if "ALL" in marks["exited"]:
        return
    if spot is None:
        step.alert("blind", scope=SCOPE, urgent=True, message="no index level: the underlying "
                   "stop-loss and target cannot act")  # fmt: skip
        return
    entry = (marks.get(SCOPE) or {}).get("entry")
    if entry is None:
        marks.update(reference(spot, stamp(step.now)))
        book.mtm = marks
        step.dirty = True
        step.event("underlying_reference", spot=str(spot))
        return
    found = underlying_exit(step.strategy, Decimal(entry), spot)
    if found is None:
        return
    reason, level = found
    marks["exited"]["ALL"] = {"reason": reason.value, "spot": str(spot), "at": stamp(step.now)}
    step.exit_scope(None, reason, positions)
    book.mtm = marks
    step.dirty = True
    if not step.claim():
        return
    step.event("underlying_exit", reason=reason.value, price=str(spot), entry_spot=entry,
               level=str(level))  # fmt: skip
