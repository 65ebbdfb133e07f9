"""The margin check before an entry: ask each account's broker what the entry's orders would block
together, compare with the account's available funds, and leave out an account that cannot pay.

Called once per entry from the planner, in its lead time before T (never on the firer's path):
for each account, one basket-margin call (the broker's own figure, spread benefit included) and
one funds call, accounts in parallel. The outcomes, per account:

* fits: its orders stay in the plan;
* does not fit: its orders are left out, the execution records ``insufficient_margin`` with the
  figures (required, available, shortfall), and the trader gets an urgent ``margin_insufficient``;
* cannot be checked (the broker's margin or funds endpoint fails, answers something unreadable,
  or the accounts' answers are not all in within ``deadline`` seconds): the entry **goes ahead
  unchecked** (fail open), recorded as ``margin_unchecked`` with an urgent ``margin_unchecked``
  notification and an operator alert. A broken margin endpoint must not silently stop trading,
  and the broker's own RMS still refuses an order it cannot fund at T (a REJECTED order, reported
  and handled by the leg-failure policy like any other). An adapter with no margin endpoint at
  all is recorded as ``margin_unchecked`` without an alert (nothing is broken).

A strategy turns the check off with ``risk.margin_check: false`` (the schedule payload carries it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.notifications import EventKind, NotificationEvent, idempotency_key
from chalicelib.errors import DomainError
from chalicelib.ports.broker import OrderRequest
from chalicelib.ports.broker_errors import BrokerError
from chalicelib.services.clock import Clock
from chalicelib.services.order_builder import ChildOrder
from chalicelib.services.order_sender import order_request

log = logging.getLogger(__name__)
#: (uid, strategy_id, schedule payload, entry orders, slot) -> (orders that may go, errors for
#: the rest)
PreEntry = Callable[
    [str, str, dict[str, Any], list[ChildOrder], datetime],
    tuple[list[ChildOrder], list[dict[str, Any]]],
]
#: How long a slot's reservations are kept (its orders are at the broker well before then).
RESERVATION_TTL = timedelta(minutes=10)
INSUFFICIENT = "insufficient_margin"
UNCHECKED = "margin_unchecked"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Verdict:
    """One account's answer: ``required`` / ``available`` in rupees, or why it is unknown."""

    account_id: str
    required: Decimal | None = None
    available: Decimal | None = None
    error: str | None = None
    #: The account's adapter has no margin endpoint (not a failure: recorded, nobody alerted).
    unsupported: bool = False
    #: Margin taken by this account's entries planned earlier for the same slot (their orders
    #: are not at the broker yet, so its funds do not show them): taken off ``available``.
    reserved: Decimal = Decimal(0)

    @property
    def fits(self) -> bool | None:
        if self.required is None or self.available is None:
            return None
        return self.required <= self.available

    def figures(self) -> dict[str, str]:
        assert self.required is not None and self.available is not None
        short = max(self.required - self.available, Decimal(0))
        return {
            "required": str(self.required.quantize(CENT)),
            "available": str(self.available.quantize(CENT)),
            "shortfall": str(short.quantize(CENT)),
            "reserved": str(self.reserved.quantize(CENT)),
        }


@dataclass
class MarginCheck:
    adapter_for: Callable[[str, str], Any]  # (uid, account_id) -> the account's broker adapter
    market: MarketModel
    clock: Clock
    notify: Callable[[NotificationEvent], None] | None = None
    alert: Callable[[str, dict[str, Any]], None] | None = None
    workers: int = 8
    #: Seconds the brokers get to answer, all accounts together: the plan must be ready at T.
    deadline: float = 6.0
    _reserved: dict[tuple[str, str, str], Decimal] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(
        self,
        uid: str,
        strategy_id: str,
        payload: dict[str, Any],
        orders: list[ChildOrder],
        at: datetime | None = None,
    ) -> tuple[list[ChildOrder], list[dict[str, Any]]]:
        """The orders that may be sent, and the execution errors to record for the others.
        Entries of one slot on one account share its funds: each takes off what the ones
        checked before it (in this process, this tick) reserved."""
        if not orders or not payload.get("margin_check", True):
            return orders, []
        by_account: dict[str, list[ChildOrder]] = {}
        for child in orders:
            by_account.setdefault(child.account_id, []).append(child)
        verdicts = self._verdicts(uid, by_account)
        kept: list[ChildOrder] = []
        errors: list[dict[str, Any]] = []
        slot = at or self.clock()
        for verdict in verdicts:
            verdict = self._reserve(uid, slot, verdict)
            fits = verdict.fits
            if fits is False:
                errors.append(self._refused(uid, strategy_id, verdict))
                continue
            kept += by_account[verdict.account_id]
            if fits is None:
                errors.append(self._unchecked(uid, strategy_id, verdict))
        return kept, errors

    def _reserve(self, uid: str, slot: datetime, verdict: Verdict) -> Verdict:
        """The verdict with the slot's earlier reservations taken off; a fitting one reserves."""
        if verdict.required is None or verdict.available is None:
            return verdict
        key = (uid, verdict.account_id, slot.isoformat())
        with self._lock:
            for old in [k for k in self._reserved if _stale(k[2], slot)]:
                del self._reserved[old]
            earlier = self._reserved.get(key, Decimal(0))
            verdict = replace(verdict, available=verdict.available - earlier, reserved=earlier)
            if verdict.fits:
                self._reserved[key] = earlier + verdict.required
        return verdict

    def _verdicts(self, uid: str, by_account: dict[str, list[ChildOrder]]) -> list[Verdict]:
        """Every account's verdict, asked in parallel; an account whose broker has not answered
        within ``deadline`` seconds is unchecked (the plan must be ready before T)."""
        pool = ThreadPoolExecutor(max_workers=min(self.workers, len(by_account)))
        try:
            asked = {
                account: pool.submit(self.verdict, uid, account, orders)
                for account, orders in sorted(by_account.items())
            }
            wait(asked.values(), timeout=self.deadline)
            return [
                future.result()
                if future.done()
                else Verdict(account, error=f"no answer within {self.deadline:g} s")
                for account, future in asked.items()
            ]
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def verdict(self, uid: str, account_id: str, orders: Sequence[ChildOrder]) -> Verdict:
        """The broker's basket margin for ``orders`` and the account's available funds."""
        try:
            # The adapter first: building it loads its dialect's instrument master in a cold
            # process, and the requests carry the tokens read from that master.
            adapter = self.adapter_for(uid, account_id)
            requests: list[OrderRequest] = [order_request(c, self.market) for c in orders]
            if not callable(getattr(adapter, "basket_margin", None)):
                return Verdict(account_id, error="no margin endpoint", unsupported=True)
            required = adapter.basket_margin(requests)
            available = adapter.funds()
        except Exception as error:  # any failure fails open: the entry is never lost to it
            unsupported = isinstance(error, BrokerError) and error.code == "margin_unsupported"
            if not isinstance(error, BrokerError | DomainError | ValueError):
                log.exception("margin check failed", extra={"user": uid, "account": account_id})
            log.warning(
                "margin not checked",
                extra={"user": uid, "account": account_id, "error": str(error)},
            )
            text = f"{type(error).__name__}: {error}"
            return Verdict(account_id, error=text, unsupported=unsupported)
        return Verdict(account_id, required, available)

    # -- reporting ---------------------------------------------------------------------------
    def _refused(self, uid: str, strategy_id: str, verdict: Verdict) -> dict[str, Any]:
        figures = verdict.figures()
        message = (
            f"not enough margin: the entry needs Rs {figures['required']}, the account has "
            f"Rs {figures['available']} available (short by Rs {figures['shortfall']})"
        )
        if verdict.reserved:
            message += f"; Rs {figures['reserved']} is taken by this slot's earlier entries"
        log.warning("entry skipped for margin", extra={"user": uid, **figures})
        self._tell(uid, strategy_id, verdict.account_id, EventKind.MARGIN_INSUFFICIENT,
                   {"reason": message, **figures})  # fmt: skip
        return {"account_id": verdict.account_id, "code": INSUFFICIENT, "message": message,
                **figures}  # fmt: skip

    def _unchecked(self, uid: str, strategy_id: str, verdict: Verdict) -> dict[str, Any]:
        message = (
            f"margin could not be checked ({verdict.error}); the entry is sent unchecked and "
            "the broker's own checks apply"
        )
        if verdict.unsupported:  # a broker without a margin endpoint: said, not alarmed
            return {"account_id": verdict.account_id, "code": UNCHECKED, "message": message}
        self._tell(uid, strategy_id, verdict.account_id, EventKind.MARGIN_UNCHECKED,
                   {"reason": message})  # fmt: skip
        details = {"user": uid, "strategy": strategy_id, "account": verdict.account_id,
                   "error": verdict.error}  # fmt: skip
        if self.alert is not None:
            try:
                self.alert("Margin check failed: entry sent unchecked", details)
            except Exception:
                log.exception("margin alert not delivered", extra=details)
        return {"account_id": verdict.account_id, "code": UNCHECKED, "message": message}

    def _tell(
        self, uid: str, strategy_id: str, account_id: str, kind: EventKind, fields: dict[str, Any]
    ) -> None:
        if self.notify is None:
            return
        now: datetime = self.clock()
        key = idempotency_key(uid, kind.value, strategy_id, account_id, now.date().isoformat())
        fields = {"strategy": strategy_id, "account": account_id, **fields}
        try:
            self.notify(NotificationEvent(uid, kind, key, now, fields))
        except Exception:
            log.exception("margin notification not queued", extra={"user": uid})


def _stale(slot_iso: str, now: datetime) -> bool:
    return datetime.fromisoformat(slot_iso) < now - RESERVATION_TTL
