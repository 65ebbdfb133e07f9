"""Closing what a strategy really holds: exit slots, entry unwinds and kill-switch square-offs.

The planner calls ``exit_orders`` for an EXIT slot; settlement calls ``send_closing`` to unwind an
entry whose leg failed; the kill switch squares off through both. Holdings come from the stored
positions (fills applied by settlement), and prices from the account's broker, so a closing LIMIT
is protected around the price its exchange will actually match against.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import ContractKey, Instrument
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.records import OrderRecord
from chalicelib.errors import DomainError
from chalicelib.ports.broker import Broker
from chalicelib.ports.broker_errors import BrokerError
from chalicelib.ports.closing import ClosingStore
from chalicelib.services.clock import Clock
from chalicelib.services.closing import (
    Holding,
    LtpSource,
    closing_orders,
    holding_of_position,
    still_held,
)
from chalicelib.services.order_builder import ChildOrder
from chalicelib.services.order_sender import Checkpoint, send, stamp

log = logging.getLogger(__name__)


class AdapterSource(Protocol):
    """What closing needs of ``BrokerAccess``: a logged-in adapter per (user, account)."""

    def adapter(self, uid: str, account_id: str) -> Broker: ...


@dataclass
class PositionCloser:
    executions: ClosingStore
    access: AdapterSource
    market: MarketModel
    ltp: LtpSource
    clock: Clock
    #: (step, order) at each step of a closing order's send (fault-matrix tests crash here).
    checkpoint: Checkpoint | None = None

    def holdings(
        self, uid: str, strategy_id: str | None = None, account_id: str | None = None
    ) -> list[Holding]:
        """Open positions (net quantity != 0) of the user, a strategy, or an account."""
        today = self.clock().astimezone(IST).date()
        return [
            holding_of_position(item)
            for item in self.executions.positions(uid, strategy_id)
            if item.net_quantity
            and (account_id is None or item.account_id == account_id)
            and still_held(item, today)
        ]

    def exit_orders(
        self,
        uid: str,
        strategy_id: str,
        *,
        at: datetime | None = None,
        account_id: str | None = None,
        phase: str = "XIT",
    ) -> tuple[list[ChildOrder], list[dict[str, Any]]]:
        """Closing orders for a strategy's open positions: BUYs to close shorts, then SELLs.

        ``phase`` gives the tag's phase letter ("X" by default, so exit tags never collide with
        entry tags, whose letter is "E"). Errors name accounts and symbols that cannot be priced
        or whose session is unusable; they are not sent.
        """
        moment = (at or self.clock()).astimezone(IST)
        held = self.holdings(uid, strategy_id, account_id)
        prices, errors = self.prices(uid, held)
        orders, refused = closing_orders(
            strategy_id, held, prices, self.market, phase=phase, on=moment.date()
        )
        return orders, errors + refused

    def prices(
        self, uid: str, holdings: Iterable[Holding]
    ) -> tuple[dict[tuple[str, ContractKey], Decimal], list[dict[str, Any]]]:
        """LTPs per (account, contract): from the account's broker, else from another account's.

        An index option has one price on its exchange whatever the broker; some dialects cannot
        quote without their instrument master (Noren, Angel, Upstox, Dhan need tokens), so a
        contract one account cannot price is priced through another account of the same user.
        """
        by_account: dict[str, list[Holding]] = {}
        for holding in holdings:
            by_account.setdefault(holding.account_id, []).append(holding)
        quoted: dict[ContractKey, Decimal] = {}
        usable: list[Broker] = []
        errors: list[dict[str, Any]] = []
        for account_id, held in by_account.items():
            try:
                adapter = self.access.adapter(uid, account_id)
            except (BrokerError, DomainError) as error:
                errors.append(
                    {"account_id": account_id, "code": _code(error), "message": str(error)}
                )
                continue
            usable.append(adapter)
            quoted.update(self._quote(adapter, [h.instrument(self.market) for h in held]))
        wanted = {h.key: h for held in by_account.values() for h in held if h.key not in quoted}
        for adapter in usable:
            if not wanted:
                break
            found = self._quote(adapter, [h.instrument(self.market) for h in wanted.values()])
            quoted.update(found)
            wanted = {k: h for k, h in wanted.items() if k not in found}
        prices = {
            (account_id, h.key): quoted[h.key]
            for account_id, held in by_account.items()
            for h in held
            if h.key in quoted
        }
        return prices, errors

    def _quote(
        self, adapter: Broker, instruments: list[Instrument]
    ) -> Mapping[ContractKey, Decimal]:
        try:
            return self.ltp.ltp(adapter, instruments)
        except BrokerError as error:
            log.info("quotes unavailable", extra={"broker": adapter.name, "error": error.kind})
            return {}

    def send_closing(
        self,
        uid: str,
        execution_sk: str,
        strategy_id: str,
        orders: Iterable[ChildOrder],
        *,
        phase: str,
    ) -> list[OrderRecord]:
        """Record and place closing orders in the order given (shorts are bought back first)."""
        now = self.clock()
        adapters: dict[str, Broker | DomainError | BrokerError] = {}
        sent: list[OrderRecord] = []
        for child in orders:
            item = self.executions.new_order(uid, execution_sk, strategy_id, phase, child, now)
            adapter = self._adapter(adapters, uid, child.account_id)
            if isinstance(adapter, Exception):  # stored, then failed-never-sent: both conditional
                error = {"kind": "no_adapter", "code": _code(adapter), "message": str(adapter)}
                self.executions.put_orders([item])
                self.executions.record_failed(item, "FAILED", error, at=stamp(self.clock()))
            else:
                send(adapter, item, self.market, self.executions, self.clock, self.checkpoint)
            sent.append(item)
        return sent

    def _adapter(
        self, cache: Mapping[str, Any], uid: str, account_id: str
    ) -> Broker | DomainError | BrokerError:
        if account_id not in cache:
            try:
                found: Any = self.access.adapter(uid, account_id)
            except (DomainError, BrokerError) as error:
                found = error
            cache[account_id] = found  # type: ignore[index]
        return cache[account_id]


def _code(error: Exception) -> str:
    return str(getattr(error, "code", None) or getattr(error, "kind", "error"))
