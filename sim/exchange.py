"""The simulated exchange: deterministic prices, one order book per account, positions, P&L.

Every fake broker server is a dialect over one ``SimExchange``. Prices are a pure function of
(seed, clock) (see ``sim.market``); resting orders are re-matched lazily at the current clock on
every call, so advancing a ``ManualClock`` and reading the order book is enough to see a stop
trigger or a limit fill. A scenario test can also pin one contract's premium with ``set_price``
(every read, match and quote then sees the pin, and resting orders re-match at once) until it
releases it. With a ``state_dir`` every change (pins included) is written atomically to
``exchange.json`` and reloaded on start, so paper trading survives restarts.

Refusals come in two kinds, as at a real broker: ``OrderRefused`` is raised for requests that
never become orders (bad quantity, freeze limit, off-tick price, unprotected MARKET, duplicate
tag), while RMS and exchange checks (price band, margin, injected RMS rejection) acknowledge an
order id and then show it REJECTED in the order book.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import ContractKey, Instrument
from chalicelib.domain.money import TICK, is_on_tick
from chalicelib.domain.protection import default_protection_policies
from chalicelib.domain.reference_data import in_force
from chalicelib.domain.underlying import Underlying
from sim.clock import Clock, ist_now
from sim.faults import Fault, FaultBook
from sim.margin import MarginLeg, Requirement, open_legs, requirement
from sim.market import Listing, instrument_for, listing_for, option_price, spot_at
from sim.orderbook import (
    ACTIVE,
    STOP_TYPES,
    USER_CANCEL,
    Order,
    OrderRequest,
    OrderType,
    Status,
    Trade,
    apply_fill,
    crosses,
    fill_quantity,
    key_from_json,
    key_to_json,
    triggered,
)
from sim.persistence import read_json, write_json_atomic

log = logging.getLogger(__name__)

#: Index names brokers use for spot quotes, besides the underlying's own name.
SPOT_ALIASES = {
    "NIFTY 50": Underlying.NIFTY,
    "NIFTY BANK": Underlying.BANKNIFTY,
    "NIFTY FIN SERVICE": Underlying.FINNIFTY,
    "NIFTY MID SELECT": Underlying.MIDCPNIFTY,
}
_PREFIXES = ("NFO:", "BFO:", "NSE:", "BSE:", "NSE_INDEX|", "BSE_INDEX|")
#: Margin a short option blocks, as a fraction of the notional (a rough SPAN + exposure figure).
SHORT_MARGIN_RATE = Decimal("0.12")
#: A paper account starts with one crore.
DEFAULT_FUNDS = Decimal("10000000")


class OrderRefused(Exception):
    """A request that never became an order; ``code`` says why, ``message`` as a broker words it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class UnknownOrder(KeyError):
    """No such order on this account."""


@dataclass(slots=True)
class Account:
    """A trading account at the exchange."""

    account_id: str
    funds: Decimal = DEFAULT_FUNDS


@dataclass(frozen=True, slots=True)
class Position:
    """Net position of one account in one contract and product."""

    account: str
    key: ContractKey
    product: str
    quantity: int
    buy_quantity: int
    sell_quantity: int
    buy_value: Decimal
    sell_value: Decimal
    average_price: Decimal
    last_price: Decimal
    pnl: Decimal
    realised: Decimal
    unrealised: Decimal


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
        self._lock = threading.RLock()
        self._accounts: dict[str, Account] = {}
        self._orders: dict[str, Order] = {}
        self._trades: list[Trade] = []
        self._pins: dict[ContractKey, Decimal] = {}
        self._spot_pins: dict[Underlying, Decimal] = {}
        self._sequence = itertools.count(1)
        self._trade_sequence = itertools.count(1)
        self._load()

    # ----------------------------------------------------------------- market data
    def now(self) -> datetime:
        """The exchange's current time (aware, IST)."""
        return self.clock().astimezone(IST)

    def listing(self, day: date | None = None) -> Listing:
        """What is listed on ``day`` (default: today by the clock)."""
        return listing_for(self.seed, day or self.now().date())

    def instruments(self, day: date | None = None) -> tuple[Instrument, ...]:
        """The listed contracts."""
        return self.listing(day).instruments

    def resolve(self, name: str | ContractKey) -> Instrument:
        """The listed contract for a key or any broker symbol / token; ``OrderRefused`` if none."""
        listing = self.listing()
        if isinstance(name, ContractKey):
            found = next((i for i in listing.instruments if i.key == name), None)
        else:
            found = listing.find(name)
            if found is None:
                for prefix in _PREFIXES:
                    if name.upper().startswith(prefix):
                        found = listing.find(name[len(prefix) :])
                        break
        if found is None:
            raise OrderRefused("instrument", f"Invalid instrument: {name}")
        return found

    def resolve_key(self, key: ContractKey) -> Instrument:
        """The contract of ``key`` with its broker references, listed today or not."""
        return instrument_for(key)

    def spot(self, underlying: str | Underlying) -> Decimal:
        """Index level now (a pinned index answers its pin)."""
        pinned = self._spot_pins.get(Underlying(underlying))
        if pinned is not None:
            return pinned
        return spot_at(self.seed, Underlying(underlying), self.now())

    def set_spot(self, underlying: str | Underlying, level: Decimal | str | None) -> Decimal:
        """Pin an index level (``None`` releases it): the index quotes every fake server gives
        follow it, so a scenario moves the underlying second by second. Option premiums stay
        the model's (or their own pins): pin those a scenario depends on too."""
        name = Underlying(underlying)
        with self._lock:
            if level is None:
                self._spot_pins.pop(name, None)
            else:
                value = Decimal(str(level))
                if not value.is_finite() or value <= 0:
                    raise ValueError(f"index level {level} must be positive")
                self._spot_pins[name] = value
            self._save()
            return self.spot(name)

    def price(self, key: ContractKey, at: datetime | None = None) -> Decimal:
        """Option premium of ``key`` at ``at`` (default now); a pinned contract answers its pin."""
        pinned = self._pins.get(key)
        if pinned is not None:
            return pinned
        moment = at or self.now()
        return option_price(key, spot_at(self.seed, key.underlying, moment), moment)

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
        value = None if price is None else self._pin_value(key, price)
        with self._lock:
            if value is None:
                self._pins.pop(key, None)
            else:
                self._pins[key] = value
            self._sweep()
            self._save()
            return self.price(key)

    def _pin_value(self, key: ContractKey, price: Decimal | int | str) -> Decimal:
        try:
            value = Decimal(str(price))
        except ArithmeticError:
            raise ValueError(f"price {price!r} is not a number") from None
        tick = self.resolve_key(key).tick_size or TICK
        if not value.is_finite() or value <= 0 or not is_on_tick(value, tick):
            raise ValueError(f"price {price} must be positive and on the {tick} tick")
        return value

    def pins(self) -> dict[ContractKey, Decimal]:
        """The pinned contracts and their prices."""
        with self._lock:
            return dict(self._pins)

    def ltp(self, instrument: str | ContractKey) -> Decimal:
        """Last price of an option (by key, symbol or token) or of an index (by name)."""
        if isinstance(instrument, ContractKey):
            return self.price(instrument)
        name = instrument.strip().upper()
        for prefix in _PREFIXES:
            name = name.removeprefix(prefix)
        if name in SPOT_ALIASES:
            return self.spot(SPOT_ALIASES[name])
        if name in Underlying.__members__:
            return self.spot(name)
        return self.price(self.resolve(instrument).key)

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
            self._refuse(account, request, instrument)
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

    def _refuse(self, account: str, request: OrderRequest, instrument: Instrument) -> None:
        if self.faults.take(account, Fault.DUPLICATE_TAG) is not None:
            raise OrderRefused("duplicate_tag", f"Duplicate order tag: {request.tag}")
        if request.side not in ("BUY", "SELL"):
            raise OrderRefused("input", f"Invalid transaction type: {request.side}")
        if request.quantity <= 0:
            raise OrderRefused("input", "Quantity must be positive")
        freeze = instrument.freeze_qty or 0
        if self.faults.take(account, Fault.FREEZE_QTY) is not None or (
            freeze and request.quantity > freeze
        ):
            raise OrderRefused(
                "freeze_qty", f"Quantity {request.quantity} exceeds the freeze limit of {freeze}"
            )
        if (
            self.faults.take(account, Fault.LOT_SIZE) is not None
            or request.quantity % instrument.lot_size
        ):
            raise OrderRefused(
                "lot_size",
                f"Quantity should be a multiple of the lot size {instrument.lot_size}",
            )
        for name in ("price", "trigger_price"):
            value = getattr(request, name)
            if value < 0 or not is_on_tick(value, instrument.tick_size):
                raise OrderRefused(
                    "tick", f"{name} {value} is not a multiple of tick {instrument.tick_size}"
                )
        if request.order_type in (OrderType.LIMIT, OrderType.SL) and request.price <= 0:
            raise OrderRefused("input", "Price must be positive for a limit order")
        if request.order_type in STOP_TYPES and request.trigger_price <= 0:
            raise OrderRefused("input", "Trigger price must be positive for a stop order")
        market = request.order_type in (OrderType.MARKET, OrderType.SL_M)
        unprotected = request.market_protection is None or request.market_protection == 0
        if market and (
            self.faults.take(account, Fault.MARKET_REFUSED) is not None
            or (self.require_market_protection and unprotected)
        ):
            raise OrderRefused(
                "market_refused", "Market orders without market protection are not allowed"
            )

    def _admit(self, order: Order) -> None:
        """RMS and exchange checks after the ack, then the first match."""
        now = order.placed_at
        ltp = self.price(order.key, now)
        if self.faults.take(order.account, Fault.RMS_REJECT) is not None:
            self._reject(order, "rms", "RMS:Rule: Check circuit limit including square off order")
            return
        if order.order_type in (OrderType.LIMIT, OrderType.SL) and not self._in_band(
            order.price, ltp, now.date()
        ):
            self._reject(
                order, "price_band", f"Price {order.price} is outside the price band around {ltp}"
            )
            return
        if self.check_margin and not self._margin_ok(order, ltp):
            self._reject(order, "margin", "RMS:Margin Exceeds, Required margin is insufficient")
            return
        partial = self.faults.take(order.account, Fault.PARTIAL_FILL)
        if partial is not None:
            ratio = Decimal(str(partial.get("ratio", "0.5")))
            lots = order.quantity // order.lot_size
            order.max_fill_lots = max(1, int(lots * ratio))
            order.hold_until = now + timedelta(seconds=float(partial.get("hold", 60)))
        if order.order_type in STOP_TYPES:
            if self.faults.take(order.account, Fault.SL_CANCELLED) is not None:
                order.cancel_on_trigger = True
            order.transition(Status.TRIGGER_PENDING, now)
        else:
            order.transition(Status.OPEN, now)
        self._match(order, ltp, now)

    def _reject(self, order: Order, code: str, message: str) -> None:
        order.reject_code = code
        order.transition(Status.REJECTED, order.placed_at, message)

    def _in_band(self, price: Decimal, ltp: Decimal, on: date) -> bool:
        low, high = in_force(default_protection_policies(), on, "protection policy").band.limits(
            ltp
        )
        return low <= price <= high

    def _margin_ok(self, order: Order, ltp: Decimal) -> bool:
        funds = self._accounts[order.account].funds
        if order.side == "BUY":
            needed = (order.price or ltp) * order.quantity
        else:
            needed = self.spot(order.key.underlying) * order.quantity * SHORT_MARGIN_RATE
        return needed <= funds

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
            if order.status not in ACTIVE:
                raise OrderRefused(
                    "state", f"Order cannot be modified as it is {order.status.lower()}"
                )
            if quantity is not None and (
                quantity <= 0 or quantity % order.lot_size or quantity < order.filled_quantity
            ):
                raise OrderRefused("lot_size", "Invalid quantity for modification")
            for name, value in (("price", price), ("trigger_price", trigger_price)):
                if value is not None and (value < 0 or not is_on_tick(value)):
                    raise OrderRefused("tick", f"{name} {value} is not on the tick")
            new_type = order.order_type if order_type is None else order_type
            new_price = order.price if price is None else price
            new_trigger = order.trigger_price if trigger_price is None else trigger_price
            if new_type in (OrderType.LIMIT, OrderType.SL) and new_price <= 0:
                raise OrderRefused("input", "Price must be positive for a limit order")
            if new_type in STOP_TYPES and new_trigger <= 0:
                raise OrderRefused("input", "Trigger price must be positive for a stop order")
            status = order.status
            if new_type is not order.order_type:
                if new_type not in STOP_TYPES:
                    status = Status.OPEN  # a stop turned limit / market rests as one
                elif order.order_type not in STOP_TYPES and not order.filled_quantity:
                    status = Status.TRIGGER_PENDING  # an untouched limit turned stop waits
            if quantity is not None:
                order.quantity = quantity
            order.price, order.trigger_price, order.order_type = new_price, new_trigger, new_type
            now = self.now()
            order.transition(status, now, "modified")
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
            grouped: dict[tuple[ContractKey, str], list[Trade]] = {}
            for trade in self.trades(account):
                grouped.setdefault((trade.key, trade.product), []).append(trade)
            return [self._position(account, k, p, ts) for (k, p), ts in grouped.items()]

    def _position(
        self, account: str, key: ContractKey, product: str, trades: list[Trade]
    ) -> Position:
        buy_q = sum(t.quantity for t in trades if t.side == "BUY")
        sell_q = sum(t.quantity for t in trades if t.side == "SELL")
        buy_v = sum((t.price * t.quantity for t in trades if t.side == "BUY"), Decimal(0))
        sell_v = sum((t.price * t.quantity for t in trades if t.side == "SELL"), Decimal(0))
        net = buy_q - sell_q
        ltp = self.price(key)
        pnl = sell_v - buy_v + net * ltp
        if net > 0:
            average = buy_v / buy_q
        elif net < 0:
            average = sell_v / sell_q
        else:
            average = Decimal(0)
        average = average.quantize(Decimal("0.01"))
        unrealised = (ltp - average) * net if net else Decimal(0)
        return Position(
            account, key, product, net, buy_q, sell_q, buy_v, sell_v, average, ltp, pnl,
            pnl - unrealised, unrealised,
        )  # fmt: skip

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
        if order.status is Status.TRIGGER_PENDING:
            if not triggered(order, ltp):
                return
            if order.cancel_on_trigger:
                order.transition(Status.CANCELLED, now, "SL order cancelled by the broker (RMS)")
                return
            order.transition(Status.OPEN, now, "triggered")
        if order.status is not Status.OPEN or not crosses(order, ltp):
            return
        if order.hold_until is not None and order.filled_quantity and now < order.hold_until:
            return
        cap = order.max_fill_lots if order.max_fill_lots is not None else self.partial_fill_lots
        quantity = fill_quantity(order, cap)
        order.max_fill_lots = None
        self._trades.append(
            Trade(
                f"{next(self._trade_sequence):08d}", order.order_id, order.account, order.key,
                order.side, quantity, ltp, order.product, now,
            )
        )  # fmt: skip
        apply_fill(order, quantity, ltp, now)

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
                "pins": [{"key": key_to_json(k), "price": str(p)} for k, p in self._pins.items()],
                "spot_pins": {u.value: str(p) for u, p in self._spot_pins.items()},
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
        self._pins = {key_from_json(p["key"]): Decimal(p["price"]) for p in doc.get("pins", [])}
        self._spot_pins = {
            Underlying(u): Decimal(p) for u, p in (doc.get("spot_pins") or {}).items()
        }
        self._sequence = itertools.count(int(doc["sequence"]) + 1)
        self._trade_sequence = itertools.count(len(self._trades) + 1)
