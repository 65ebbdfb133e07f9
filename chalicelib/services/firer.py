"""The firer: at slot T, send every built order once, as close to T as the clock allows.

It sleeps on the monotonic clock (immune to wall-clock steps) until a few milliseconds before T and
spins the rest. Accounts are sent in parallel; within an account BUY legs go before SELL legs
(hedges first, for margin) and every request passes the account's rate limiter, so the 10 orders/s
rule wins over speed. Each order is claimed with a conditional write (BUILT -> SENDING) before it
is sent: a second firer, a retried Lambda or a duplicate batch cannot send it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.adapters.brokers.errors import BrokerError
from chalicelib.adapters.brokers.port import OrderRequest, OrderType, Product, Side
from chalicelib.adapters.dynamo.models import OrderItem
from chalicelib.adapters.dynamo.repository import _lost_race, now_iso
from chalicelib.domain.calendar import IST
from chalicelib.domain.market_model import MarketModel
from chalicelib.services.order_builder import ChildOrder

log = logging.getLogger(__name__)
SPIN_WINDOW = 0.003  # seconds of busy-wait before T; sleeping the last stretch overshoots

AdapterFor = Callable[[str, str], Any]  # (uid, account_id) -> a Broker with a session


@dataclass
class Firer:
    adapter_for: AdapterFor
    market: MarketModel
    wall: Callable[[], datetime] = lambda: datetime.now(IST)
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    max_workers: int = 32

    def wait_until(self, moment: datetime) -> None:
        """Sleep on the monotonic clock until `moment` (a wall-clock instant)."""
        target = self.monotonic() + (moment - self.wall()).total_seconds()
        while True:
            left = target - self.monotonic()
            if left <= 0:
                return
            if left > SPIN_WINDOW:
                self.sleep(left - SPIN_WINDOW)

    def fire(self, orders: list[OrderItem]) -> dict[str, Any]:
        """Send `orders` at their scheduled_at; returns counts. Orders not BUILT are skipped."""
        by_account: dict[tuple[str, str, str], list[OrderItem]] = {}
        for order in orders:
            by_account.setdefault((order.scheduled_at, order.uid, order.account_id), []).append(
                order
            )
        sent = failed = skipped = 0
        for scheduled_at in sorted({k[0] for k in by_account}):
            groups = [g for k, g in by_account.items() if k[0] == scheduled_at]
            adapters = [self._adapter(g[0].uid, g[0].account_id) for g in groups]
            self.wait_until(datetime.fromisoformat(scheduled_at))
            workers = max(1, min(self.max_workers, len(groups)))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for outcome in pool.map(self._send_account, groups, adapters):
                    sent += outcome["sent"]
                    failed += outcome["failed"]
                    skipped += outcome["skipped"]
        return {"sent": sent, "failed": failed, "skipped": skipped}

    def _stamp(self) -> str:
        """sent_at / acked_at on the same clock as scheduled_at, to the microsecond."""
        return self.wall().astimezone(IST).isoformat(timespec="microseconds")

    def _adapter(self, uid: str, account_id: str) -> Any:
        try:
            return self.adapter_for(uid, account_id)
        except Exception as error:
            log.warning("no adapter for account", extra={"user": uid, "account": account_id})
            return error

    def _send_account(self, orders: list[OrderItem], adapter: Any) -> dict[str, int]:
        ordered = sorted(
            orders, key=lambda o: (o.request["side"] != "BUY", o.request["leg"], o.request["slice"])
        )
        counts = {"sent": 0, "failed": 0, "skipped": 0}
        for order in ordered:
            if not self._claim(order):
                counts["skipped"] += 1
                continue
            outcome = self._send(order, adapter)
            counts[outcome] += 1
        return counts

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

    def _send(self, order: OrderItem, adapter: Any) -> str:
        if isinstance(adapter, Exception):
            return self._fail(order, "no_adapter", str(adapter), sent_at=None)
        child = ChildOrder.from_dict(order.request)
        request = OrderRequest(
            instrument=child.instrument(self.market),
            side=Side(child.side),
            quantity=child.quantity,
            product=Product(child.product),
            order_type=OrderType.LIMIT,
            price=Decimal(child.limit_price),
            tag=child.tag,
        )
        sent_at = self._stamp()
        try:
            ack = adapter.place(request)
        except BrokerError as error:
            return self._fail(order, type(error).__name__, str(error), sent_at=sent_at)
        acked_at = self._stamp()
        order.update(
            actions=[
                OrderItem.status.set("SENT"),
                OrderItem.broker_order_id.set(ack.order_id),
                OrderItem.sent_at.set(sent_at),
                OrderItem.acked_at.set(acked_at),
                OrderItem.history.set(
                    [{"at": acked_at, "status": "SENT", "recovered": ack.recovered}]
                ),
                OrderItem.updated_at.set(now_iso()),
            ]
        )
        return "sent"

    def _fail(self, order: OrderItem, code: str, message: str, sent_at: str | None) -> str:
        at = self._stamp()
        actions = [
            OrderItem.status.set("FAILED"),
            OrderItem.error.set({"code": code, "message": message}),
            OrderItem.history.set([{"at": at, "status": "FAILED", "message": message}]),
            OrderItem.updated_at.set(now_iso()),
        ]
        if sent_at:
            actions.append(OrderItem.sent_at.set(sent_at))
        order.update(actions=actions)
        log.warning("order failed", extra={"order": order.order_id, "code": code})
        return "failed"
