"""The firer: at slot T, send every built order once, as close to T as the clock allows.

Everything that can happen before T does: adapters are built (sessions opened, KMS) and every
order is claimed with a conditional write (BUILT -> SENDING, ``FireStore.claim_order``)
so a second firer, a retried Lambda or a duplicate batch cannot send it again. Then it sleeps on
the monotonic clock (immune to wall-clock steps) until a few milliseconds before T and spins the
rest. At T the hot path is HTTP only: accounts in parallel (one worker each), within an account BUY
legs before SELL legs (hedges first, for margin), every request through the account's rate
limiter (the 10 orders/s rule wins over speed); where that limiter lives in the table (AWS), each
account's budget for its orders is reserved before T with one conditional write, so no order waits
on the table at T. Where a wire sender is wired and the adapter allows it (``fire_wire.py``), each
account's requests are serialised before T and its connection opened, and at T one event loop
writes them (one request in flight per account): a fraction of a thread-and-httpx send's CPU.
Results are written after the sends (``fire_record.py``).
`sent_at` is the moment the limiter granted the request, on the same clock as `scheduled_at`.

Isolation: every order's outcome is recorded whatever another order, account or user raises. An
unexpected exception while sending one order (a malformed broker reply, a storage error in the
rate limiter) makes that order UNKNOWN, for the recovery sweep, and the account's next legs still
go out; a failed claim or record of one order never aborts the batch (the order stays where the
store has it, and recovery resolves it).

Staleness: an entry that cannot leave within its strategy's ``max_entry_delay_seconds`` after T
is not sent but recorded MISSED, with an alert; exits and every other phase are sent however late.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.calendar import IST
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.records import OrderRecord
from chalicelib.ports.broker import (
    OrderRequest,
    OrderType,
    Product,
    Side,
)
from chalicelib.ports.broker_errors import Unavailable
from chalicelib.ports.firing import FireStore
from chalicelib.ports.wire import WireSender
from chalicelib.services import fire_wire
from chalicelib.services.fire_outcome import DEFAULT_MAX_ENTRY_DELAY, Sent, iso_stamp
from chalicelib.services.fire_outcome import outcome_of as _outcome_of
from chalicelib.services.fire_record import Alert, FireRecorder
from chalicelib.services.order_builder import ChildOrder
from chalicelib.services.stamping_limiter import StampingLimiter

log = logging.getLogger(__name__)
SPIN_WINDOW = 0.003  # seconds of busy-wait before T; sleeping the last stretch overshoots
MAX_WORKERS = 256  # one per account: 250 accounts send in one wave, not in waves of 32
#: Table and KMS work before T (adapters, claims, budgets) and the records after the sends: enough
#: for DynamoDB, not a thread per account (a local emulator times out under 256 writers).
TABLE_WORKERS = 32

AdapterFor = Callable[[str, str], Any]  # (uid, account_id) -> a Broker with a session
#: (step, order) -> None; the fault-matrix tests raise here to simulate a crash at that step.
Checkpoint = Callable[[str, OrderRecord], None]
BeforeSend = Callable[
    [list[OrderRecord], list[OrderRequest], Any], tuple[list[OrderRecord], list[OrderRequest]]
]


@dataclass
class Firer(fire_wire.WireFiring):
    adapter_for: AdapterFor
    market: MarketModel
    #: The store of order transitions (claim, record ack / unknown / failed / missed).
    executions: FireStore
    wall: Callable[[], datetime] = lambda: datetime.now(IST)
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    stamps: StampingLimiter | None = None
    max_workers: int = MAX_WORKERS
    #: At T, before an account's sends: may drop or shrink orders (exits cancel stops first).
    before_send: BeforeSend | None = None
    #: Sends prepared bytes at T where an account allows it (None: every account threaded).
    wire: WireSender | None = None
    alert: Alert | None = None
    checkpoint: Checkpoint | None = None
    #: CPU seconds of the last fire() by stage (threads summed): prep, send (the hot path), record.
    last_cpu: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def wait_until(self, moment: datetime) -> None:
        """Sleep on the monotonic clock until `moment` (a wall-clock instant)."""
        target = self.monotonic() + (moment - self.wall()).total_seconds()
        while True:
            left = target - self.monotonic()
            if left <= 0:
                return
            if left > SPIN_WINDOW:
                self.sleep(left - SPIN_WINDOW)

    def fire(self, orders: list[OrderRecord]) -> dict[str, int]:
        """Send `orders` at their scheduled_at; returns counts. Orders not BUILT are skipped.

        Counts: sent (acknowledged), failed (refused or never sent), skipped (claimed by someone
        else); ``unknown`` and ``missed`` appear when there are any.
        """
        token = secrets.token_hex(8)  # this call's claims: a retried claim recognises its own
        by_account: dict[tuple[str, str, str], list[OrderRecord]] = {}
        for order in orders:
            key = (order.scheduled_at, order.uid, order.account_id)
            by_account.setdefault(key, []).append(order)
        counts = {"sent": 0, "failed": 0, "skipped": 0}
        self.last_cpu = {"prep": 0.0, "send": 0.0, "record": 0.0}
        for scheduled_at in sorted({k[0] for k in by_account}):
            groups = [_hedges_first(g) for k, g in by_account.items() if k[0] == scheduled_at]
            workers = max(1, min(self.max_workers, len(groups)))
            table_workers = min(workers, TABLE_WORKERS)
            with (
                ThreadPoolExecutor(max_workers=workers) as pool,
                ThreadPoolExecutor(max_workers=table_workers) as prep,
            ):
                adapters = list(prep.map(self._cpu("prep", self._adapter), groups))
                claim = self._cpu("prep", partial(self._claim_all, token))
                claimed = list(prep.map(claim, groups))
                counts["skipped"] += sum(
                    len(g) - len(c) for g, c in zip(groups, claimed, strict=True)
                )
                requests = [[self._request(o) for o in group] for group in claimed]
                moment = datetime.fromisoformat(scheduled_at)
                if self.stamps is not None:
                    budget = self._cpu("prep", partial(self._reserve, moment))
                    list(prep.map(budget, claimed))
                t_mono = self.monotonic() + (moment - self.wall()).total_seconds()
                wire = self._cpu("prep", partial(self._wire, t_mono))
                wired = list(prep.map(wire, claimed, requests, adapters))
                self.wait_until(moment)
                results = self._send_all(pool, claimed, requests, adapters, wired)
                outcomes = list(prep.map(self._cpu("record", self._record_all), results))
                for outcome in outcomes:
                    for name, count in outcome.items():
                        counts[name] = counts.get(name, 0) + count
        return {k: v for k, v in counts.items() if v or k in ("sent", "failed", "skipped")}

    def _cpu(self, stage: str, work: Callable[..., Any]) -> Callable[..., Any]:
        """`work`, adding the CPU time its thread spends to `last_cpu[stage]`."""
        lock = self._lock

        def timed(*args: Any) -> Any:
            started = time.thread_time()
            try:
                return work(*args)
            finally:
                with lock:
                    self.last_cpu[stage] += time.thread_time() - started

        return timed

    def _at(self, step: str, order: OrderRecord) -> None:
        """A named step of the lifecycle (fault-matrix tests crash the process here)."""
        if self.checkpoint is not None:
            self.checkpoint(step, order)

    # -- before T ------------------------------------------------------------------------------
    def _adapter(self, group: list[OrderRecord]) -> Any:
        try:
            return self.adapter_for(group[0].uid, group[0].account_id)
        except Exception as error:
            log.warning("no adapter", extra={"user": group[0].uid, "account": group[0].account_id})
            return error

    def _claim_all(self, token: str, group: list[OrderRecord]) -> list[OrderRecord]:
        return [order for order in group if self._claim(token, order)]

    def _claim(self, token: str, order: OrderRecord) -> bool:
        """claim, once per order; a storage failure leaves the order unsent for recovery."""
        self._at("before_claim", order)
        try:
            claimed = self.executions.claim_order(order, token, iso_stamp(self.wall()))
        except Exception:
            log.exception("claim failed", extra={"order": order.order_id})
            return False
        if claimed:
            self._at("after_claim", order)
        return claimed

    def _reserve(self, moment: datetime, group: list[OrderRecord]) -> None:
        """The account's rate budget for its claimed orders, reserved before T."""
        if group and self.stamps is not None:
            self.stamps.reserve(group[0].account_id, len(group), moment)

    def _request(self, order: OrderRecord) -> OrderRequest | Exception:
        try:
            child = ChildOrder.from_dict(order.request)
            return OrderRequest(
                instrument=child.instrument(self.market),
                side=Side(child.side),
                quantity=child.quantity,
                product=Product(child.product),
                order_type=OrderType.LIMIT,
                price=Decimal(child.limit_price),
                tag=child.tag,
            )
        except Exception as error:  # a bad stored request fails this order only
            log.exception("order request unusable", extra={"order": order.order_id})
            return error

    # -- at T: HTTP only -----------------------------------------------------------------------
    def _send_account(
        self, orders: list[OrderRecord], requests: list[OrderRequest | Exception], adapter: Any
    ) -> list[Sent]:
        results: list[Sent] = []
        if not orders:
            return results
        if self.before_send is not None and not isinstance(adapter, Exception):
            usable = [(o, r) for o, r in zip(orders, requests, strict=True)
                      if not isinstance(r, Exception)]  # fmt: skip
            try:
                kept, kept_requests = self.before_send(
                    [o for o, _ in usable], [r for _, r in usable], adapter
                )
                broken = [(o, r) for o, r in zip(orders, requests, strict=True)
                          if isinstance(r, Exception)]  # fmt: skip
                orders = kept + [o for o, _ in broken]
                requests = [*kept_requests, *(r for _, r in broken)]
            except Exception:
                log.exception("before-send hook failed", extra={"account": orders[0].account_id})
                orders, requests = self._hold_back_closing(orders, requests)
        for order, request in zip(orders, requests, strict=True):
            results.append(self._send_one(order, request, adapter))
        return results

    def _hold_back_closing(
        self, orders: list[OrderRecord], requests: list[OrderRequest | Exception]
    ) -> tuple[list[OrderRecord], list[OrderRequest | Exception]]:
        """Fail closed when the hook that trims closing orders to what is held broke: unchecked,
        an exit could reverse a position a stop or a kill switch already closed. Closing orders
        stay claimed and unsent; the recovery sweep finds them absent at the broker and resends
        them once through the hook (docs/order-lifecycle.md). Entries go out as planned."""
        held = [o for o in orders if o.phase != "ENTRY"]
        for order in held:
            self._alarm(
                "closing order held back", order,
                "not sent at T: what is held could not be checked; recovery resends it",
                code="closing_held_back",
            )  # fmt: skip
        kept = [(o, r) for o, r in zip(orders, requests, strict=True) if o.phase == "ENTRY"]
        return [o for o, _ in kept], [r for _, r in kept]

    def _send_one(
        self, order: OrderRecord, request: OrderRequest | Exception, adapter: Any
    ) -> Sent:
        """One order's send; whatever it raises becomes this order's recorded outcome."""
        before = self.wall()
        if isinstance(adapter, Exception) or isinstance(request, Exception):
            cause = adapter if isinstance(adapter, Exception) else request
            return Sent(order, before, None, None, cause, outcome=lc.FAILED, left=False)
        late = self._too_late(order, before)
        if late is not None:
            return Sent(order, before, None, None, None, outcome=lc.MISSED, left=False)
        try:
            ack, error = adapter.place(request), None
        except Exception as failure:
            ack, error = None, failure
        acked = self.wall()
        granted = self.stamps.take_grant() if self.stamps else None
        self._at("after_send", order)
        outcome = lc.OPEN if ack is not None else _outcome_of(error)
        left = outcome != lc.FAILED or not isinstance(error, Unavailable)
        return Sent(order, granted or before, acked if ack else None, ack, error, outcome, left)

    def _allowed(self, order: OrderRecord) -> timedelta | None:
        """How long after T an entry may still leave (None: other phases, however late)."""
        if order.phase != "ENTRY":
            return None
        return timedelta(seconds=float(order.max_delay_seconds or DEFAULT_MAX_ENTRY_DELAY))

    def _too_late(self, order: OrderRecord, now: datetime) -> timedelta | None:
        """How late an entry is beyond its allowed delay (None: send it). Other phases never are."""
        allowed = self._allowed(order)
        if allowed is None:
            return None
        late = now - datetime.fromisoformat(order.scheduled_at)
        return late if late > allowed else None

    # -- after the account's sends -------------------------------------------------------------
    def _recorder(self) -> FireRecorder:
        return FireRecorder(self.executions, self.alert, self._at)

    def _record_all(self, results: list[Sent]) -> dict[str, int]:
        return self._recorder().record_all(results)

    def _alarm(self, subject: str, order: OrderRecord, message: str, code: str) -> None:
        self._recorder().alarm(subject, order, message, code)


def _leg_name(order: OrderRecord) -> str:
    """``SELL 65 NIFTY 24500 CE 2026-12-01``: what a trader recognises at the broker."""
    request = order.request or {}
    keys = ("side", "quantity", "underlying", "strike", "option_type", "expiry")
    return " ".join(str(request[k]) for k in keys if request.get(k) is not None) or order.tag


def _hedges_first(orders: list[OrderRecord]) -> list[OrderRecord]:
    return sorted(
        orders, key=lambda o: (o.request["side"] != "BUY", o.request["leg"], o.request["slice"])
    )
