"""The firer: at slot T, send every built order once, as close to T as the clock allows.

Everything that can happen before T does: adapters are built (sessions opened, KMS) and every
order is claimed with a conditional write (BUILT -> SENDING) so a second firer, a retried Lambda
or a duplicate batch cannot send it again. Then it sleeps on the monotonic clock (immune to
wall-clock steps) until a few milliseconds before T and spins the rest. At T the hot path is HTTP
only: accounts in parallel (one worker each), within an account BUY legs before SELL legs (hedges
first, for margin), every request through the account's rate limiter (the 10 orders/s rule wins
over speed). Results are written after the account's sends. `sent_at` is the moment the limiter
granted the request, on the same clock as `scheduled_at`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.adapters.brokers.errors import BrokerError
from chalicelib.adapters.brokers.port import OrderAck, OrderRequest, OrderType, Product, Side
from chalicelib.adapters.brokers.rate_limit import OrderRateLimiter
from chalicelib.adapters.dynamo.models import OrderItem
from chalicelib.adapters.dynamo.repository import _lost_race, now_iso
from chalicelib.domain.calendar import IST
from chalicelib.domain.market_model import MarketModel
from chalicelib.services.order_builder import ChildOrder

log = logging.getLogger(__name__)
SPIN_WINDOW = 0.003  # seconds of busy-wait before T; sleeping the last stretch overshoots
MAX_WORKERS = 256  # one per account: 250 accounts send in one wave, not in waves of 32

AdapterFor = Callable[[str, str], Any]  # (uid, account_id) -> a Broker with a session
BeforeSend = Callable[
    [list[OrderItem], list[OrderRequest], Any], tuple[list[OrderItem], list[OrderRequest]]
]


class StampingLimiter:
    """Wraps the per-account limiter and remembers, per thread, when it granted the last request:
    that is when the order really left (a paced order waits inside `place`)."""

    def __init__(self, inner: OrderRateLimiter, wall: Callable[[], datetime]) -> None:
        self._inner = inner
        self._wall = wall
        self._local = threading.local()

    def acquire(self, account: str) -> float:
        waited = self._inner.acquire(account)
        self._local.granted = self._wall()
        return waited

    def take_grant(self) -> datetime | None:
        granted: datetime | None = getattr(self._local, "granted", None)
        self._local.granted = None
        return granted


@dataclass
class Sent:
    order: OrderItem
    sent_at: datetime
    acked_at: datetime | None
    ack: OrderAck | None
    error: BrokerError | Exception | None


@dataclass
class Firer:
    adapter_for: AdapterFor
    market: MarketModel
    wall: Callable[[], datetime] = lambda: datetime.now(IST)
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    stamps: StampingLimiter | None = None
    max_workers: int = MAX_WORKERS
    #: At T, before an account's sends: may drop or shrink orders (exits cancel stops first).
    before_send: BeforeSend | None = None
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

    def fire(self, orders: list[OrderItem]) -> dict[str, int]:
        """Send `orders` at their scheduled_at; returns counts. Orders not BUILT are skipped."""
        by_account: dict[tuple[str, str, str], list[OrderItem]] = {}
        for order in orders:
            key = (order.scheduled_at, order.uid, order.account_id)
            by_account.setdefault(key, []).append(order)
        counts = {"sent": 0, "failed": 0, "skipped": 0}
        self.last_cpu = {"prep": 0.0, "send": 0.0, "record": 0.0}
        for scheduled_at in sorted({k[0] for k in by_account}):
            groups = [_hedges_first(g) for k, g in by_account.items() if k[0] == scheduled_at]
            workers = max(1, min(self.max_workers, len(groups)))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                adapters = list(pool.map(self._cpu("prep", self._adapter), groups))
                claimed = list(pool.map(self._cpu("prep", self._claim_all), groups))
                counts["skipped"] += sum(
                    len(g) - len(c) for g, c in zip(groups, claimed, strict=True)
                )
                requests = [[self._request(o) for o in group] for group in claimed]
                self.wait_until(datetime.fromisoformat(scheduled_at))
                send = self._cpu("send", self._send_account)
                results = list(pool.map(send, claimed, requests, adapters))
                for outcome in pool.map(self._cpu("record", self._record_all), results):
                    counts["sent"] += outcome["sent"]
                    counts["failed"] += outcome["failed"]
        return counts

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

    # -- before T ------------------------------------------------------------------------------
    def _adapter(self, group: list[OrderItem]) -> Any:
        try:
            adapter = self.adapter_for(group[0].uid, group[0].account_id)
            warm = getattr(adapter, "warm", None)
            if warm is not None:
                warm()  # the connection is open before T; the first order skips the handshake
            return adapter
        except Exception as error:
            log.warning("no adapter", extra={"user": group[0].uid, "account": group[0].account_id})
            return error

    def _claim_all(self, group: list[OrderItem]) -> list[OrderItem]:
        return [order for order in group if self._claim(order)]

    def _claim(self, order: OrderItem) -> bool:
        try:
            order.update(
                actions=[OrderItem.status.set("SENDING")],
                condition=OrderItem.status == "BUILT",
            )
        except UpdateError as error:
            if _lost_race(error):
                return False
            raise
        return True

    def _request(self, order: OrderItem) -> OrderRequest:
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

    # -- at T: HTTP only -----------------------------------------------------------------------
    def _send_account(
        self, orders: list[OrderItem], requests: list[OrderRequest], adapter: Any
    ) -> list[Sent]:
        results = []
        if self.before_send is not None and not isinstance(adapter, Exception):
            try:
                orders, requests = self.before_send(orders, requests, adapter)
            except Exception:  # the exit still goes out: an unprotected position is worse
                log.exception("before-send hook failed", extra={"account": orders[0].account_id})
        for order, request in zip(orders, requests, strict=True):
            before = self.wall()
            if isinstance(adapter, Exception):
                results.append(Sent(order, before, None, None, adapter))
                continue
            try:
                ack, error = adapter.place(request), None
            except BrokerError as failure:
                ack, error = None, failure
            acked = self.wall()
            granted = self.stamps.take_grant() if self.stamps else None
            results.append(Sent(order, granted or before, acked if ack else None, ack, error))
        return results

    # -- after the account's sends -------------------------------------------------------------
    def _record_all(self, results: list[Sent]) -> dict[str, int]:
        counts = {"sent": 0, "failed": 0}
        for result in results:
            counts["sent" if result.ack else "failed"] += 1
            self._record(result)
        return counts

    def _record(self, result: Sent) -> None:
        order, stamp = result.order, _iso(result.sent_at)
        if result.ack is not None and result.acked_at is not None:
            acked = _iso(result.acked_at)
            actions = [
                OrderItem.status.set("SENT"),
                OrderItem.broker_order_id.set(result.ack.order_id),
                OrderItem.sent_at.set(stamp),
                OrderItem.acked_at.set(acked),
                OrderItem.history.set(
                    [{"at": acked, "status": "SENT", "recovered": result.ack.recovered}]
                ),
            ]
        else:
            code = type(result.error).__name__
            message = str(result.error)
            actions = [
                OrderItem.status.set("FAILED"),
                OrderItem.error.set({"code": code, "message": message}),
                OrderItem.history.set([{"at": stamp, "status": "FAILED", "message": message}]),
            ]
            if isinstance(result.error, BrokerError):  # it reached the broker (or tried to)
                actions.append(OrderItem.sent_at.set(stamp))
            log.warning("order failed", extra={"order": order.order_id, "code": code})
        actions.append(OrderItem.updated_at.set(now_iso()))
        order.update(actions=actions)


def _hedges_first(orders: list[OrderItem]) -> list[OrderItem]:
    return sorted(
        orders, key=lambda o: (o.request["side"] != "BUY", o.request["leg"], o.request["slice"])
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(IST).isoformat(timespec="microseconds")
