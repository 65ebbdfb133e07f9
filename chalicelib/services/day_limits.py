"""Account day limits: when an account's P&L for the day crosses its loss limit or profit target,
square it off and refuse its entries for the rest of the day.

One ``check`` per few seconds of the risk monitor (``jobs.risk``) reads every account that has a
limit (one GSI1 Query), prices the day's positions of each user once, and for an account past a
limit:

1. engages the account's kill switch (``engaged_by = "day-limit"``): it refuses new entries at
   once, withdraws entries built but not sent, freezes the risk books on the account, and squares
   off exactly what is held under the close lease, so it is serialised with every other closer
   (exit at T, stops, re-entries); its first pass runs here, the driver runs the rest;
2. marks the account ``day_limit = {date, kind, ...}``: the planner and re-entries read it and
   refuse the account's entries with ``day_limit_reached`` for the rest of that day;
3. tells the trader (``day_limit_reached``, urgent) and records why.

Once the switch has found the account flat it is released (the mark keeps entries refused, and a
new day starts with the account free again); a switch the trader engaged is never released here.
An account whose open positions cannot all be priced is not judged this cycle (a loss limit must
not fire on half a book), and is logged.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.domain.calendar import IST
from chalicelib.domain.day_limits import (
    DAY_LIMIT_ACTOR,
    Leg,
    crossed,
    describe,
    leg_pnl,
    reached_on,
)
from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.kill_switch import FLAT
from chalicelib.domain.notifications import EventKind, NotificationEvent, idempotency_key
from chalicelib.domain.records import AccountRecord, PositionRecord
from chalicelib.errors import ConcurrentChange, NotFound
from chalicelib.ports.day_limits import DayLimitAccounts, PositionSource
from chalicelib.services.clock import Clock
from chalicelib.services.closing import Holding, holding_of_position, still_held
from chalicelib.services.kill_switch import KillSwitch

log = logging.getLogger(__name__)
CENT = Decimal("0.01")


def _money(value: str | None) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def has_limits(account: AccountRecord) -> bool:
    return bool(account.daily_loss_limit or account.daily_profit_target)


class Pricing(Protocol):
    """Last prices of held contracts per (account, contract), and what could not be priced
    (``services.exits.PositionCloser``: each account's broker, else another of the user's)."""

    def prices(
        self, uid: str, holdings: Iterable[Holding]
    ) -> tuple[dict[tuple[str, ContractKey], Decimal], list[dict[str, Any]]]: ...


@dataclass
class DayLimits:
    accounts: DayLimitAccounts
    positions: PositionSource
    closer: Pricing
    kill_switch: KillSwitch
    clock: Clock
    notify: Callable[[NotificationEvent], None] | None = None

    # -- queries -------------------------------------------------------------------------------
    def blocks(self, uid: str, account_id: str, day: str | None = None) -> str | None:
        """Why the account's entries are refused today (a day limit was reached), or None."""
        day = day or self.clock().astimezone(IST).date().isoformat()
        try:
            account = self.accounts.get_account(uid, account_id)
        except NotFound:
            return None
        return reached_on(account.day_limit, day)

    def day_pnl(
        self, uid: str, account_id: str, positions: Sequence[PositionRecord], now: datetime
    ) -> Decimal | None:
        """The account's P&L for the day from this platform's positions (as ``GET /pnl``
        counts it), or None when an open position has no price."""
        day = now.astimezone(IST).date()
        mine = [
            p
            for p in positions
            if p.account_id == account_id
            and (p.updated_at or "").startswith(day.isoformat())
            and (not p.net_quantity or still_held(p, day))
        ]
        open_ = [p for p in mine if p.net_quantity]
        prices = (
            self.closer.prices(uid, [holding_of_position(p) for p in open_])[0] if open_ else {}
        )
        total = Decimal(0)
        for p in mine:
            ltp = prices.get((account_id, holding_of_position(p).key)) if p.net_quantity else None
            realised, unrealised = leg_pnl(
                Leg(int(p.buy_quantity), int(p.sell_quantity), Decimal(p.buy_value),
                    Decimal(p.sell_value), int(p.net_quantity)),
                ltp,
            )  # fmt: skip
            if unrealised is None:
                log.warning(
                    "day limit not judged: a position has no price",
                    extra={"user": uid, "account": account_id, "symbol": p.symbol},
                )
                return None
            total += realised + unrealised
        return total

    # -- the periodic step ---------------------------------------------------------------------
    def check(self, now: datetime | None = None, uids: set[str] | None = None) -> dict[str, int]:
        """One pass over every account with a day limit (``uids``: only these users)."""
        moment = (now or self.clock()).astimezone(IST)
        day = moment.date().isoformat()
        figures = {"accounts": 0, "reached": 0, "released": 0, "failed": 0}
        by_user: dict[str, list[AccountRecord]] = defaultdict(list)
        for account in self.accounts.all_accounts():
            if uids is not None and account.uid not in uids:
                continue
            if has_limits(account) or reached_on(account.day_limit, day):
                by_user[account.uid].append(account)
        for uid, accounts in sorted(by_user.items()):
            try:
                figures["released"] += self._release_flat(uid, accounts, day)
                watched = [
                    a for a in accounts if has_limits(a) and not reached_on(a.day_limit, day)
                ]
                if not watched:
                    continue
                positions = self.positions.positions(uid, consistent=True)
                for account in watched:
                    figures["accounts"] += 1
                    pnl = self.day_pnl(uid, account.account_id, positions, moment)
                    if pnl is None:
                        continue
                    hit = crossed(
                        pnl, _money(account.daily_loss_limit), _money(account.daily_profit_target)
                    )
                    if hit is not None:
                        self.reach(account, hit[0], hit[1], pnl, moment)
                        figures["reached"] += 1
            except Exception:  # one user's failure never stops the others' limits
                figures["failed"] += 1
                log.exception("day limit check failed", extra={"user": uid})
        return figures

    def reach(
        self, account: AccountRecord, kind: str, limit: Decimal, pnl: Decimal, now: datetime
    ) -> dict[str, Any]:
        """Square the account off (its kill switch), mark it for the day and tell the trader."""
        uid, account_id = account.uid, account.account_id
        day = now.date().isoformat()
        pnl = pnl.quantize(CENT)
        message = describe(kind, limit, pnl)
        log.warning(
            "day limit reached",
            extra={"user": uid, "account": account_id, "kind": kind, "pnl": str(pnl)},
        )
        switch, created = self.kill_switch.engage(
            uid, "account", account_id, who=DAY_LIMIT_ACTOR, reason=message
        )
        if created:
            switch = self.kill_switch.drive(switch, now).item  # the first pass, here and now
        mark = {
            "date": day, "kind": kind, "limit": str(limit), "pnl": str(pnl),
            "at": now.isoformat(timespec="seconds"), "message": message,
            "operation_id": switch.operation_id,
        }  # fmt: skip
        self._mark(uid, account_id, mark)
        if self.notify is not None:
            try:
                self.notify(self._event(account, mark, now))
            except Exception:
                log.exception("day limit notification not queued", extra={"user": uid})
        return mark

    # -- helpers -------------------------------------------------------------------------------
    def _mark(self, uid: str, account_id: str, mark: dict[str, Any]) -> None:
        for _attempt in range(5):  # a PATCH racing the mark: read again and retry
            fresh = self.accounts.get_account(uid, account_id)
            if reached_on(fresh.day_limit, mark["date"]):
                return
            fresh.day_limit = mark
            try:
                self.accounts.save_account(fresh)
                return
            except ConcurrentChange:
                continue
        log.error("day limit mark not saved", extra={"user": uid, "account": account_id})

    def _release_flat(self, uid: str, accounts: Sequence[AccountRecord], day: str) -> int:
        """Release this service's switches that found their account flat, once the account's
        mark (which keeps its entries refused for the day) is stored."""
        marked = {a.account_id for a in accounts if reached_on(a.day_limit, day)}
        released = 0
        for item in self.kill_switch.active(uid):
            mine = item.engaged_by == DAY_LIMIT_ACTOR and item.scope == "account"
            if mine and item.status == FLAT and item.target in marked:
                try:
                    self.kill_switch.release(uid, "account", item.target)
                    released += 1
                except NotFound:
                    pass
        return released

    @staticmethod
    def _event(account: AccountRecord, mark: dict[str, Any], now: datetime) -> NotificationEvent:
        fields = {
            "account": f"{account.label} ({account.broker})",
            "reason": mark["message"],
            "mtm": mark["pnl"],
            "action": "positions squared off; entries refused until the next trading day",
            "trade_date": mark["date"],
        }
        key = idempotency_key(account.uid, "day_limit", account.account_id, mark["date"])
        return NotificationEvent(account.uid, EventKind.DAY_LIMIT_REACHED, key, now, fields)
