"""A risk-engine scenario rig on a pinned trading day: the simulated exchange, the fake Kite and the
platform all read one movable clock (Thursday 2026-11-26, 10:00 IST), so a scenario means the
same thing at any date and hour it runs.

Faults beyond the fake broker's own (``sim/faults.py``) come through the adapters the engine is
given (``Tripwire``): a process that dies right before or right after a broker call (``Crash``,
a BaseException nothing in the engine may catch) and a broker that is slow to acknowledge. A
crashed monitor is resumed by a fresh ``RiskEngine`` (nothing shared but the table and the
broker), as a restarted process would.

``Scenario.check`` asserts what every scenario must end with: the platform's positions equal the
broker's, at most one resting stop per contract, and no order (tag) placed twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from chalicelib.adapters.dynamo.order_items import order_item
from chalicelib.adapters.dynamo.risk_items import RiskBookItem, RiskRepository
from chalicelib.adapters.dynamo.risk_orders import RiskOrders
from chalicelib.container import Container
from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import Instrument
from chalicelib.domain.protection import protected_limit_price
from chalicelib.domain.underlying import Underlying
from chalicelib.ports.broker import OrderRequest, OrderType
from chalicelib.services.broker_access import CachedAccess
from chalicelib.services.closing import BrokerLtp, canonical_symbol, unique_tag
from chalicelib.services.exits import PositionCloser
from chalicelib.services.order_builder import ChildOrder
from chalicelib.services.order_sender import send
from chalicelib.services.risk_engine import RiskEngine
from chalicelib.services.settlement import Backoff, Settlement
from sim.exchange import SimExchange
from sim.orderbook import ACTIVE

D = Decimal
#: A Thursday in the F&O session, not a holiday; the nearest NIFTY weekly expires Tue 2026-12-01.
TRADING_DAY = datetime(2026, 11, 26, 10, 0, tzinfo=IST)
FAST = Backoff(first=0.05, factor=2.0, cap=0.2, deadline=2.0)


class SimClock:
    """The one clock of a scenario: platform, exchange and fake broker read it; tests move it."""

    def __init__(self, start: datetime = TRADING_DAY) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 1) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class Crash(BaseException):
    """The process dies here: nothing in the engine may catch it."""


@dataclass
class Trap:
    """One fault on the next matching broker call: ``crash_before`` / ``crash_after`` the call
    reaches the broker, ``slow`` (the broker takes ``delay`` s to acknowledge), ``stall`` (the
    sender waits ``delay`` s before the call leaves: claimed, not yet sent), ``error_500`` (the
    broker answers 500), or ``before`` (``before()`` runs first: the market moves as the order
    leaves)."""

    call: str  # place | cancel | modify
    when: Callable[[Any], bool]
    action: str
    delay: float = 1.5
    count: int = 1
    before: Callable[[], Any] | None = None  # action "before": run this, then the real call


def is_stop(request: OrderRequest) -> bool:
    return request.order_type is OrderType.SL_LIMIT


def is_close(request: OrderRequest) -> bool:
    return request.order_type is OrderType.LIMIT and request.side.value == "BUY"


def is_reentry(request: OrderRequest) -> bool:
    return request.order_type is OrderType.LIMIT and request.side.value == "SELL"


def anything(_: Any) -> bool:
    return True


#: The trap predicates by name (a monitor process is told its traps in JSON).
PREDICATES: dict[str, Callable[[Any], bool]] = {
    "stop": is_stop, "close": is_close, "reentry": is_reentry, "any": anything,
}  # fmt: skip


class Tripwire:
    """An adapter that springs the armed traps and otherwise is the real one."""

    def __init__(self, inner: Any, traps: list[Trap]) -> None:
        self._inner = inner
        self._traps = traps

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _spring(self, call: str, subject: Any, run: Callable[[], Any]) -> Any:
        trap = next(
            (t for t in self._traps if t.call == call and t.count and t.when(subject)), None
        )
        if trap is None:
            return run()
        trap.count -= 1
        if trap.action == "before" and trap.before is not None:
            trap.before()
            return run()
        if trap.action == "crash_before":
            raise Crash(f"died before {call}")
        if trap.action == "stall":
            time.sleep(trap.delay)
            return run()
        if trap.action == "reject":
            from chalicelib.ports.broker_errors import Rejected

            raise Rejected("Order modification rejected (injected)", broker="zerodha")
        if trap.action == "error_500":
            from chalicelib.ports.broker_errors import Unavailable

            raise Unavailable("HTTP 500 from the broker (injected)", broker="zerodha", sent=True)
        result = run()
        if trap.action == "slow":
            time.sleep(trap.delay)
            return result
        raise Crash(f"died after {call}")

    def place(self, request: OrderRequest) -> Any:
        return self._spring("place", request, lambda: self._inner.place(request))

    def cancel(self, order_id: str) -> Any:
        return self._spring("cancel", order_id, lambda: self._inner.cancel(order_id))

    def modify(self, order_id: str, change: Any, *, request: OrderRequest) -> Any:
        return self._spring(
            "modify", request, lambda: self._inner.modify(order_id, change, request=request)
        )


@dataclass
class TrippingAccess:
    inner: Any
    traps: list[Trap] = field(default_factory=list)

    def adapter(self, uid: str, account_id: str) -> Any:
        return Tripwire(self.inner.adapter(uid, account_id), self.traps)


@dataclass
class Sim:
    clock: SimClock
    exchange: SimExchange
    kite: Any
    container: Container
    api: Any
    uid: str
    account: dict[str, Any]


SHORT_SL30 = {"side": "SELL", "stop_loss": {"type": "PERCENT", "value": "30"}}


class Scenario:
    """A strategy on the Kite account, entered at pinned premiums, with its risk engines."""

    def __init__(self, sim: Sim, legs: list[dict[str, Any]], risk: dict[str, Any]) -> None:
        self.sim = sim
        basket = sim.api.call("POST", "/baskets", {"name": "risk", "enabled": True}).data
        strikes = [{"method": "ATM_OFFSET", "value": i} for i in range(len(legs))]
        body = {
            "basket_id": basket["id"], "name": "risk safety", "underlying": "NIFTY",
            "expiry": "current_week", "product": "MIS",
            "entry": {"time": "09:20:00", "days": ["MON", "TUE", "WED", "THU", "FRI"]},
            "exit": {"time": "15:15:00"},
            "allocations": [{"account_id": sim.account["id"], "multiplier": 1}],
            "legs": [
                {"side": leg["side"], "option_type": "CE", "strike": strikes[i], "lots": 1,
                 **{k: v for k, v in leg.items() if k not in ("side", "price", "lots")}}
                for i, leg in enumerate(legs)
            ],
            "risk": risk,
        }  # fmt: skip
        created = sim.api.call("POST", "/strategies", body)
        assert created.status_code == 201, created.body
        self.strategy_id = created.data["id"]
        self.legs = legs
        self.contracts = self._contracts(len(legs))
        self.client_id = sim.account["client_id"]
        self.traps: list[Trap] = []
        self.engine = self.fresh_engine()

    # -- the platform ---------------------------------------------------------------------------
    def fresh_engine(self) -> RiskEngine:
        """A new engine, as a restarted (or a second) monitor process would build it."""
        c = self.sim.container
        access = TrippingAccess(CachedAccess(c.broker_access), self.traps)
        closer = PositionCloser(c.executions, access, c.market, BrokerLtp(), c.clock)
        settlement = Settlement(c.executions, c.repo, closer, c.clock, backoff=FAST)
        return RiskEngine(
            RiskRepository(c.settings.schedule_shards), c.repo, settlement, c.clock,
            RiskOrders(c.executions),
            leases=c.leases, entry_block=c.kill_switch.blocks,
        )  # fmt: skip

    def trap(self, call: str, when: Callable[[Any], bool], action: str, **kw: Any) -> Trap:
        trap = Trap(call, when, action, **kw)
        self.traps.append(trap)
        return trap

    @property
    def now(self) -> datetime:
        return self.sim.clock.now

    def _contracts(self, n: int) -> list[Instrument]:
        exchange = self.sim.exchange
        spot = exchange.spot("NIFTY")
        listed = [i for i in exchange.instruments() if i.underlying is Underlying.NIFTY]
        expiry = min(i.expiry for i in listed)
        calls = sorted(
            (i for i in listed if i.expiry == expiry and i.option_type == "CE"),
            key=lambda i: abs(i.strike - spot),
        )
        return sorted(calls[:n], key=lambda i: i.strike)

    def price(self, leg: int, value: str) -> None:
        self.sim.exchange.set_price(self.contracts[leg].key, D(value))

    def enter(self, arm: bool = True) -> RiskBookItem | None:
        """Entry orders through the real adapter at pinned premiums, settled; then armed."""
        c = self.sim.container
        for i, leg in enumerate(self.legs):
            self.price(i, leg.get("price", "100"))
        self.execution = c.executions.open_execution(
            self.sim.uid, self.now.date().isoformat(), self.strategy_id, "ENTRY",
            self.now.isoformat(), "test",
        )  # fmt: skip
        assert self.execution is not None
        adapter = c.broker_access.adapter(self.sim.uid, self.sim.account["id"])
        for i, leg in enumerate(self.legs):
            item = order_item(self.sim.uid, self.execution.sk, self.strategy_id, "ENTRY",
                              self.child(i, leg["side"], leg.get("lots", 1)), self.now)  # fmt: skip
            send(adapter, item, c.market, c.executions, c.clock)
        self.engine.settlement.settle(self.sim.uid, self.execution.sk)
        self.since = len(self.sim.kite.received)
        return self.engine.arm(self.sim.uid, self.execution.sk) if arm else None

    def child(self, leg: int, side: str, lots: int = 1) -> ChildOrder:
        instrument = self.contracts[leg]
        ltp = self.sim.exchange.ltp(instrument.key)
        return ChildOrder(
            account_id=self.sim.account["id"], broker="zerodha", leg=leg, slice_no=0, side=side,
            key=instrument.key, exchange=instrument.exchange.value,
            lot_size=instrument.lot_size, tick_size=instrument.tick_size,
            quantity=lots * instrument.lot_size,
            limit_price=protected_limit_price(side, ltp, on=self.now.date()),
            product="MIS", tag=unique_tag(self.strategy_id, "ENTRY", leg),
        )  # fmt: skip

    def book(self) -> RiskBookItem:
        book = self.engine.books.get(self.sim.uid, self.now.date().isoformat(), self.strategy_id)
        assert book is not None
        return book

    def step(self, seconds: float = 1, engine: RiskEngine | None = None) -> RiskBookItem:
        self.sim.clock.advance(seconds)
        (engine or self.engine).step(self.book(), self.now)
        return self.book()

    def steps(self, n: int, seconds: float = 1) -> RiskBookItem:
        for _ in range(n):
            self.step(seconds)
        return self.book()

    def guards(self) -> list[dict[str, Any]]:
        return self.book().guards

    def orders(self, phase: str | None = None) -> list[Any]:
        c = self.sim.container
        items = c.executions.orders_of_execution(self.sim.uid, self.execution.sk)
        return sorted(
            (o for o in items if phase is None or o.phase == phase),
            key=lambda o: (o.scheduled_at or "", o.sent_at or "", o.order_id),
        )

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        c = self.sim.container
        execution = c.executions.get_execution(self.sim.uid, self.execution.sk)
        return [e for e in self.engine.books.events(execution) if kind is None or e["kind"] == kind]

    # -- the broker -----------------------------------------------------------------------------
    def placed(self) -> list[dict[str, str]]:
        """Order placements the fake Kite received since the entry (form fields)."""
        return [
            dict(parse_qsl(r.body))
            for r in self.sim.kite.received[self.since :]
            if r.method == "POST" and r.path.startswith("/orders/")
        ]

    def broker_orders(self) -> list[Any]:
        return self.sim.exchange.orders(self.client_id)

    def resting_stops(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for order in self.broker_orders():
            if order.order_type in ("SL", "SL-M") and order.status in ACTIVE:
                symbol = canonical_symbol(order.key)
                found[symbol] = found.get(symbol, 0) + 1
        return found

    def position(self, leg: int) -> int:
        return self.platform_positions().get(canonical_symbol(self.contracts[leg].key), 0)

    def broker_position(self, leg: int) -> int:
        return self.broker_positions().get(canonical_symbol(self.contracts[leg].key), 0)

    def platform_positions(self) -> dict[str, int]:
        c = self.sim.container
        items = c.executions.positions(self.sim.uid, self.strategy_id, consistent=True)
        return {p.symbol: int(p.net_quantity) for p in items if int(p.net_quantity)}

    def broker_positions(self) -> dict[str, int]:
        return {
            canonical_symbol(p.key): p.quantity
            for p in self.sim.exchange.positions(self.client_id)
            if p.quantity
        }

    def check(self) -> None:
        """What every scenario must end with."""
        assert self.platform_positions() == self.broker_positions()
        assert all(n <= 1 for n in self.resting_stops().values()), self.resting_stops()
        tags = [p["tag"] for p in self.placed()]
        assert len(tags) == len(set(tags)), tags
        stops = [o for o in self.broker_orders() if o.order_type in ("SL", "SL-M")]
        per_guard: dict[str, int] = {}
        for order in stops:
            if order.status in ACTIVE or order.filled_quantity:
                symbol = canonical_symbol(order.key)
                per_guard[symbol] = per_guard.get(symbol, 0) + 1
        assert all(n <= 1 for n in per_guard.values()) or self._reentered(), per_guard

    def _reentered(self) -> bool:
        return any(int(g.get("cycle", 0)) > 0 for g in self.guards())


def while_sending(s: Scenario, first: RiskEngine, second: RiskEngine, closes: int = 1) -> None:
    """``first`` steps in a thread; once the broker has its close(s) (still unacknowledged: a
    ``slow`` trap holds the answer), ``second`` reads the book and steps: the race in which both
    used to close."""
    book = s.book()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            first.step(book, s.now)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if len([p for p in s.placed() if p["order_type"] == "LIMIT"]) >= closes:
            break
        time.sleep(0.02)
    second.step(s.book(), s.now)
    thread.join()
    assert not errors, errors


def plan_exit(s: Scenario) -> list[Any]:
    """The strategy's exit as the planner builds it before T: closing orders for what the
    positions hold now, stored BUILT under the EXIT execution (scheduled at 15:15:00)."""
    c = s.sim.container
    closer = PositionCloser(c.executions, c.broker_access, c.market, BrokerLtp(), c.clock)
    children, errors = closer.exit_orders(s.sim.uid, s.strategy_id)
    assert not errors, errors
    at = EXIT_TIME
    execution = c.executions.open_execution(
        s.sim.uid, at.date().isoformat(), s.strategy_id, "EXIT", at.isoformat(), "test"
    )
    assert execution is not None
    s.exit_execution = execution.sk
    items = [order_item(s.sim.uid, execution.sk, s.strategy_id, "EXIT", c_, at) for c_ in children]
    c.executions.put_orders(items)
    return items


def fire_exit(s: Scenario, items: list[Any], engine: RiskEngine | None = None) -> dict[str, int]:
    """The planned exit fired at T through the firer and the exit hook (``ExitGuard``), then
    settled; ``engine`` is the exit process's risk engine (another process than the monitor)."""
    from chalicelib.services.exit_guard import ExitGuard
    from chalicelib.services.firer import Firer

    c = s.sim.container
    s.sim.clock.now = EXIT_TIME
    engine = engine or s.fresh_engine()
    firer = Firer(
        adapter_for=c.broker_access.adapter, market=c.market, wall=c.clock,
        executions=c.executions, before_send=ExitGuard(engine, c.leases, engine.settlement),
    )  # fmt: skip
    counts = firer.fire(items)
    engine.settlement.settle(s.sim.uid, s.exit_execution)
    return counts


def exit_orders(s: Scenario) -> list[Any]:
    c = s.sim.container
    return c.executions.orders_of_execution(s.sim.uid, s.exit_execution)


def step_in_thread(s: Scenario, engine: RiskEngine, started: Callable[[], bool]) -> Any:
    """``engine`` steps the book in a thread; returns once ``started()`` holds (e.g. its close is
    at the broker, its answer held back by a ``slow`` trap), with a ``join`` that re-raises."""
    book, now = s.book(), s.now
    errors: list[BaseException] = []

    def run() -> None:
        try:
            engine.step(book, now)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not started() and thread.is_alive():
        time.sleep(0.02)

    def join() -> None:
        thread.join()
        assert not errors, errors

    return join


EXIT_TIME = datetime(2026, 11, 26, 15, 15, tzinfo=IST)
