"""The simulated exchange: deterministic prices, one order book per account, positions, P&L.

Every fake broker server is a dialect over one ``SimExchange``. Prices are a pure function of
(seed, clock) (see ``sim.market``); resting orders are re-matched lazily at the current clock on
every call, so advancing a ``ManualClock`` and reading the order book is enough to see a stop
trigger or a limit fill. A scenario test can also pin one contract's premium with ``set_price``
(every read, match and quote then sees the pin, and resting orders re-match at once) until it
releases it. With a ``state_dir`` every change (pins included) is written atomically to
``exchange.json`` and reloaded on start, so paper trading survives restarts.

The exchange is a facade over its parts: prices and pins (``sim.prices``), the checks on a
request before and after the ack (``sim.admission``, whose ``OrderRefused`` and ``UnknownOrder``
are in ``sim.errors``), the order and matching rules (``sim.orderbook``), accounts
(``sim.accounts``), positions (``sim.positions``) and margin (``sim.margin``). It holds the
state, the lock and the state file.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import ContractKey, Instrument
from chalicelib.domain.underlying import Underlying
from sim.accounts import DEFAULT_FUNDS, Account
from sim.admission import check_modification, check_request, rest, rms_rejection
from sim.clock import Clock, ist_now
from sim.errors import OrderRefused, UnknownOrder
from sim.faults import Fault, FaultBook
from sim.margin import MarginLeg, Requirement, open_legs, requirement
from sim.market import Listing, instrument_for
from sim.orderbook import (
    ACTIVE,
    USER_CANCEL,
    Order,
    OrderRequest,
    OrderType,
    Status,
    Trade,
    match,
)
from sim.persistence import read_json, write_json_atomic
from sim.positions import Position, positions_of
from sim.prices import PriceBoard

log = logging.getLogger(__name__)


class SimExchange:
    """A deterministic market with per-account order books (see the module docstring)."""

    def __init__(
        self,
        seed: int = 7,
        clock: Callable[[], datetime] | None = None,
        state_dir: Path | None = None,
        *,
        require_market_protection: bool = True,
        check_margin: bool = False,
        partial_fill_lots: int | None = None,
    ) -> None:
        self.seed = seed
        self.clock: Clock = clock or ist_now
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.require_market_protection = require_market_protection
        self.check_margin = check_margin
        self.partial_fill_lots = partial_fill_lots
        self.faults = FaultBook()
        self.board = PriceBoard(seed, self.now)
        self._lock = threading.RLock()
        self._accounts: dict[str, Account] = {}
        self._orders: dict[str, Order] = {}
        self._trades: list[Trade] = []
        self._sequence = itertools.count(1)
        self._trade_sequence = itertools.count(1)
        self._load()

    # ----------------------------------------------------------------- market data
    def now(self) -> datetime:
        """The exchange's current time (aware, IST)."""
        return self.clock().astimezone(IST)

    def listing(self, day: date | None = None) -> Listing:
        """What is listed on ``day`` (default: today by the clock)."""
        return self.board.listing(day)

    def instruments(self, day: date | None = None) -> tuple[Instrument, ...]:
        """The listed contracts."""
        return self.listing(day).instruments

    def resolve(self, name: str | ContractKey) -> Instrument:
        """The listed contract for a key or any broker symbol / token; ``OrderRefused`` if none."""
        return self.board.resolve(name)

    def resolve_key(self, key: ContractKey) -> Instrument:
        """The contract of ``key`` with its broker references, listed today or not."""
        return instrument_for(key)

    def spot(self, underlying: str | Underlying) -> Decimal:
        """Index level now (a pinned index answers its pin)."""
        return self.board.spot(underlying)

    def set_spot(self, underlying: str | Underlying, level: Decimal | str | None) -> Decimal:
        """Pin an index level (``None`` releases it): the index quotes every fake server gives
        follow it, so a scenario moves the underlying second by second. Option premiums stay
        the model's (or their own pins): pin those a scenario depends on too."""
        name = Underlying(underlying)
        with self._lock:
            self.board.pin_spot(name, level)
            self._save()
            return self.spot(name)

    def price(self, key: ContractKey, at: datetime | None = None) -> Decimal:
        """Option premium of ``key`` at ``at`` (default now); a pinned contract answers its pin."""
        return self.board.price(key, at)

    def set_price(self, key: ContractKey, price: Decimal | None) -> Decimal:
        """Pin the LTP of one option contract (``None`` releases it back to the model price).

        The pin holds at every moment until released: ``ltp``, ``price``, matching, positions
        and every fake server's quotes see it. Resting orders are re-matched at once, so pinning
        a premium across a stop's trigger fires the stop before this returns. Prices must be
        positive and on the contract's tick (``ValueError`` otherwise: a scenario with an
        off-tick premium is a mistake in the scenario). Returns the contract's LTP afterwards.
        """
        if not isinstance(key, ContractKey):
            raise TypeError(f"set_price takes a ContractKey, not {type(key).__name__}")
        value = None if price is None else self.board.pin_value(key, price)
        with self._lock:
            self.board.pin_price(key, value)
            self._sweep()
            self._save()
            return self.price(key)

    def pins(self) -> dict[ContractKey, Decimal]:
        """The pinned contracts and their prices."""
        with self._lock:
            return dict(self.board.pins)

    def ltp(self, instrument: str | ContractKey) -> Decimal:
        """Last price of an option (by key, symbol or token) or of an index (by name)."""
        return self.board.ltp(instrument)

    # ----------------------------------------------------------------- accounts
    def open_account(self, account_id: str, funds: Decimal | None = None) -> Account:
        """Create the account if new (idempotent)."""
        with self._lock:
            account = self._accounts.get(account_id)
            if account is None:
                account = Account(account_id, funds if funds is not None else DEFAULT_FUNDS)
                self._accounts[account_id] = account
                self._save()
            return account

    def set_funds(self, account_id: str, funds: Decimal) -> None:
        """Give an account these funds (a scenario short of margin)."""
        with self._lock:
            self.open_account(account_id).funds = Decimal(funds)
            self._save()

    def basket_margin(self, legs: list[tuple[str, str, int, Decimal | None]]) -> Requirement:
        """What ``(instrument, side, quantity, price)`` legs block together (``sim.margin``);
        a leg without a price is valued at its LTP. Unknown instruments raise ``KeyError``."""
        with self._lock:
            resolved = []
            for name, side, quantity, price in legs:
                key = self.resolve(name).key
                resolved.append(MarginLeg(key, side, int(quantity), price or self.price(key)))
            return requirement(resolved, self.spot)

    def available_funds(self, account_id: str) -> Decimal:
        """Funds less what the account's open positions block (``sim.margin``)."""
        with self._lock:
            funds = self.open_account(account_id).funds
            blocked = requirement(open_legs(self.positions(account_id)), self.spot).total
            return (funds - blocked).quantize(Decimal("0.01"))

    def accounts(self) -> list[str]:
        """Known account ids."""
        with self._lock:
            return sorted(self._accounts)

    def inject(self, account: str, fault: Fault | str, count: int = 1, **params: Any) -> None:
        """Arm an order-level fault (see ``sim.faults``)."""
        self.faults.arm(account, fault, count, **params)

    # ----------------------------------------------------------------- orders
    def place(self, account: str, request: OrderRequest) -> Order:
        """Validate and accept an order (ack), then match it at the current price."""
        with self._lock:
            self._require_account(account)
            self._sweep()
            instrument = self.resolve(request.instrument)
            check_request(
                account,
                request,
                instrument,
                self.faults,
                require_market_protection=self.require_market_protection,
            )
            now = self.now()
            order = Order(
                order_id=self._next_order_id(now),
                account=account,
                key=instrument.key,
                side=request.side,
                quantity=request.quantity,
                order_type=request.order_type,
                price=request.price,
                trigger_price=request.trigger_price,
                product=request.product,
                validity=request.validity,
                tag=request.tag,
                status=Status.OPEN,
                placed_at=now,
                updated_at=now,
                lot_size=instrument.lot_size,
                market_protection=request.market_protection,
                variety=request.variety,
            )
            self._orders[order.order_id] = order
            self._admit(order)
            self._save()
            return order

    def _admit(self, order: Order) -> None:
        """RMS and exchange checks after the ack, then the first match."""
        now = order.placed_at
        ltp = self.price(order.key, now)
        funds = self._accounts[order.account].funds if self.check_margin else None
        rejection = rms_rejection(order, ltp, self.faults, funds=funds, spot=self.spot)
        if rejection is not None:
            order.reject_code, message = rejection
            order.transition(Status.REJECTED, now, message)
            return
        rest(order, self.faults, now)
        self._match(order, ltp, now)

    def modify(
        self,
        account: str,
        order_id: str,
        *,
        quantity: int | None = None,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        order_type: OrderType | None = None,
    ) -> Order:
        """Change an open order; ``OrderRefused`` if it is terminal or the change is invalid."""
        with self._lock:
            self._sweep()
            order = self.order(account, order_id)
            change = check_modification(
                order,
                quantity=quantity,
                price=price,
                trigger_price=trigger_price,
                order_type=order_type,
            )
            order.quantity, order.order_type = change.quantity, change.order_type
            order.price, order.trigger_price = change.price, change.trigger_price
            now = self.now()
            order.transition(change.status, now, "modified")
            self._match(order, self.price(order.key, now), now)
            self._save()
            return order

    def cancel(self, account: str, order_id: str) -> Order:
        """Cancel an open order's pending quantity."""
        with self._lock:
            self._sweep()
            order = self.order(account, order_id)
            if order.status not in ACTIVE:
                raise OrderRefused(
                    "state", f"Order cannot be cancelled as it is {order.status.lower()}"
                )
            order.transition(Status.CANCELLED, self.now(), USER_CANCEL)
            self._save()
            return order

    def order(self, account: str, order_id: str) -> Order:
        """One order of ``account`` (``UnknownOrder`` otherwise)."""
        with self._lock:
            self._sweep()
            order = self._orders.get(order_id)
            if order is None or order.account != account:
                raise UnknownOrder(order_id)
            return order

    def orders(self, account: str) -> list[Order]:
        """All orders of ``account``, oldest first."""
        with self._lock:
            self._sweep()
            return [o for o in self._orders.values() if o.account == account]

    def find_by_tag(self, account: str, tag: str) -> list[Order]:
        """Orders of ``account`` carrying ``tag`` (correlation-id lookups)."""
        return [o for o in self.orders(account) if o.tag == tag]

    def trades(self, account: str) -> list[Trade]:
        """Fills of ``account``, oldest first."""
        with self._lock:
            self._sweep()
            return [t for t in self._trades if t.account == account]

    def positions(self, account: str) -> list[Position]:
        """Net positions with P&L marked at the current price."""
        with self._lock:
            return positions_of(account, self.trades(account), self.price)

    # ----------------------------------------------------------------- matching
    def tick(self) -> None:
        """Re-match every resting order at the current clock (reads do this too)."""
        with self._lock:
            self._sweep()

    def _sweep(self) -> None:
        now = self.now()
        changed = False
        for order in self._orders.values():
            if order.status in ACTIVE:
                before = (order.status, order.filled_quantity)
                self._match(order, self.price(order.key, now), now)
                changed |= before != (order.status, order.filled_quantity)
        if changed:
            self._save()

    def _match(self, order: Order, ltp: Decimal, now: datetime) -> None:
        trade = match(
            order,
            ltp,
            now,
            cap_lots=self.partial_fill_lots,
            trade_id=lambda: f"{next(self._trade_sequence):08d}",
        )
        if trade is not None:
            self._trades.append(trade)

    # ----------------------------------------------------------------- state
    def _require_account(self, account: str) -> None:
        if account not in self._accounts:
            raise OrderRefused("account", f"Unknown account {account}")

    def _next_order_id(self, now: datetime) -> str:
        return f"{now:%y%m%d}{next(self._sequence):09d}"

    @property
    def _state_file(self) -> Path | None:
        return self.state_dir / "exchange.json" if self.state_dir is not None else None

    def _save(self) -> None:
        if self._state_file is None:
            return
        sequence = max((int(o[6:]) for o in self._orders), default=0)
        write_json_atomic(
            self._state_file,
            {
                "seed": self.seed,
                "accounts": {a: str(acc.funds) for a, acc in self._accounts.items()},
                "orders": [o.to_json() for o in self._orders.values()],
                "trades": [t.to_json() for t in self._trades],
                "sequence": sequence,
                **self.board.to_json(),
            },
        )

    def _load(self) -> None:
        if self._state_file is None:
            return
        doc = read_json(self._state_file)
        if doc is None:
            return
        if doc.get("seed") != self.seed:
            log.warning("state file seed differs", extra={"file": str(self._state_file)})
        self._accounts = {a: Account(a, Decimal(f)) for a, f in doc["accounts"].items()}
        self._orders = {o["order_id"]: Order.from_json(o) for o in doc["orders"]}
        self._trades = [Trade.from_json(t) for t in doc["trades"]]
        self.board.load_json(doc)
        self._sequence = itertools.count(int(doc["sequence"]) + 1)
        self._trade_sequence = itertools.count(len(self._trades) + 1)
