"""An in-memory execution store: executions, orders, positions and events, with the conditions of
the DynamoDB adapter (``chalicelib/adapters/dynamo/execution_repository.py``).

It satisfies the ports of settlement, closing, the exit guard and recovery
(``chalicelib/ports/settlement.py``, ``closing.py``, ``recovery.py``) with the adapter's semantics:

* a read returns a copy: changing it changes nothing stored;
* a write succeeds only when the stored record meets the transition's condition (the states it
  starts from, the claim token, the claim's age, the fill level, the position's version); the
  record passed in then carries what was stored (PynamoDB's update returns the new item);
* a refused write refreshes the record passed in from the store and answers False, except when
  the stored record already is where the write was taking it (the adapter's own retried write);
* ``apply_fill`` adds each fill level once, in one step with the order, retrying on a version
  conflict of the position.

Tests script races and crashes with ``before_write``: a callable ``(operation, record)`` run just
before each write is checked, so it can move the stored record (another actor) or raise (a crash,
or the store unavailable).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.fills import add_fill, applied_so_far, keep_applied
from chalicelib.errors import DependencyUnavailable, NotFound
from tests.fakes.firing import FakeNewOrders
from tests.fakes.records import Account, Execution, Order, Position, Strategy

#: The adapter's attempts of a fill against concurrent writers of one position.
FILL_ATTEMPTS = 12
STAMP = "2026-12-01T09:20:00.000+05:30"

Check = Callable[[Any], bool]


def execution_sk(trade_date: str, strategy_id: str, phase: str) -> str:
    return f"EXEC#{trade_date}#{strategy_id}#{phase}"


def order_sk(trade_date: str, order_id: str) -> str:
    return f"ORDER#{trade_date}#{order_id}"


def position_sk(strategy_id: str, account_id: str, symbol: str) -> str:
    return f"POS#{strategy_id}#{account_id}#{symbol}"


def _copy_into(target: Any, source: Any, cls: type) -> None:
    """Every field of the record type from ``source`` onto ``target`` (the caller's record)."""
    for f in dataclasses.fields(cls):
        setattr(target, f.name, copy.deepcopy(getattr(source, f.name)))


def _as(cls: type, record: Any) -> Any:
    """A stored copy of ``record`` (a dataclass of ``tests/fakes/records.py`` or a PynamoDB item)."""
    return cls(**{f.name: copy.deepcopy(getattr(record, f.name)) for f in dataclasses.fields(cls)})


def _entry(at: str, status: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"at": at, "status": status, "filled_quantity": 0, "average_price": None,
            "message": message, **extra}  # fmt: skip


def _stale(before: str | None) -> Check:
    """The adapter's ``claim_is_stale``: no claim, or one taken before ``before``."""
    if before is None:
        return lambda o: True
    return lambda o: o.claim_token is None or (o.claimed_at is not None and o.claimed_at < before)


def _claimed_by(token: str) -> Check:
    return lambda o: (o.status == lc.CLAIMED and o.claim_token == token
                      and o.broker_order_id is None and o.sent_at is None)  # fmt: skip


class InMemoryExecutions(FakeNewOrders):
    def __init__(self, stamp: Callable[[], str] = lambda: STAMP) -> None:
        self.executions_by_key: dict[tuple[str, str], Execution] = {}
        self.orders_by_key: dict[tuple[str, str], Order] = {}
        self.positions_by_key: dict[tuple[str, str], Position] = {}
        self.events: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.strategies: dict[tuple[str, str], Strategy] = {}
        self.accounts: list[Account] = []
        self.writes: list[str] = []  # the operations that wrote, in order
        self.before_write: Callable[[str, Any], None] | None = None
        self._stamp = stamp

    # -- seeding and inspection (tests) ----------------------------------------------------------
    def add_execution(self, execution: Execution) -> Execution:
        self.executions_by_key[(execution.uid, execution.sk)] = _as(Execution, execution)
        return copy.deepcopy(execution)

    def add_order(self, order: Order) -> Order:
        self.orders_by_key[(order.uid, order.sk)] = _as(Order, order)
        return copy.deepcopy(order)

    def stored_order(self, uid: str, sk: str) -> Order:
        return self.orders_by_key[(uid, sk)]

    def stored_execution(self, uid: str, sk: str) -> Execution:
        return self.executions_by_key[(uid, sk)]

    def stored_position(self, uid: str, strategy_id: str, account_id: str, symbol: str) -> Position:
        return self.positions_by_key[(uid, position_sk(strategy_id, account_id, symbol))]

    def events_of(self, uid: str, execution_sk: str) -> list[dict[str, Any]]:
        return self.events.get((uid, execution_sk), [])

    # -- executions ------------------------------------------------------------------------------
    def open_execution(
        self,
        uid: str,
        trade_date: str,
        strategy_id: str,
        phase: str,
        slot: str,
        owner: str,
        token: str | None = None,
    ) -> Execution | None:
        """The gate: the first attempt creates the execution; a retry with the same token
        continues with it; anyone else gets None."""
        token = token or f"gate-{len(self.executions_by_key)}"
        sk = execution_sk(trade_date, strategy_id, phase)
        self._hook("open_execution", None)
        stored = self.executions_by_key.get((uid, sk))
        if stored is not None:
            return copy.deepcopy(stored) if stored.gate_token == token else None
        item = Execution(sk=sk, uid=uid, strategy_id=strategy_id, phase=phase,
                         trade_date=trade_date, slot=slot, status="PLANNED", owner=owner,
                         gate_token=token, events=[])  # fmt: skip
        item.created_at = item.updated_at = self._stamp()
        self.executions_by_key[(uid, sk)] = item
        self.writes.append("open_execution")
        return copy.deepcopy(item)

    def get_execution(self, uid: str, sk: str) -> Execution:
        found = self.executions_by_key.get((uid, sk))
        if found is None:
            raise NotFound("execution not found")
        return copy.deepcopy(found)

    def executions_on(self, uid: str, trade_date: str) -> list[Execution]:
        return [copy.deepcopy(e) for (u, sk), e in sorted(self.executions_by_key.items())
                if u == uid and sk.startswith(f"EXEC#{trade_date}")]  # fmt: skip

    def update_execution(self, item: Execution, **fields: Any) -> None:
        stored = self._execution_for_write("update_execution", item)
        for name, value in fields.items():
            setattr(stored, name, copy.deepcopy(value))
        stored.updated_at = self._stamp()
        _copy_into(item, stored, Execution)

    def add_event(self, item: Execution, event: dict[str, Any]) -> None:
        self._hook("add_event", item)
        self.events.setdefault((item.uid, item.sk), []).append(copy.deepcopy(event))
        self.writes.append("add_event")

    def claim_unwind(self, item: Execution, token: str) -> bool:
        stored = self._execution_for_write("claim_unwind", item)
        if stored.unwind_token not in (None, token):
            _copy_into(item, stored, Execution)
            return False
        stored.unwind_token = token
        _copy_into(item, stored, Execution)
        return True

    # -- orders: creation and reads --------------------------------------------------------------
    def put_orders(self, items: Iterable[Any]) -> None:
        items = list(items)
        for item in items:
            self._hook("put_orders", item)
        for item in items:
            item.created_at = item.updated_at = self._stamp()
            self.orders_by_key[(item.uid, item.sk)] = _as(Order, item)
        self.writes.append("put_orders")

    def put_claimed(self, items: Sequence[Any], owner: str, *, at: str) -> None:
        for item in items:
            item.status = lc.CLAIMED
            item.claim_token = f"{owner}:{item.order_id}"
            item.claimed_at = at
        self.put_orders(items)

    def orders_of_execution(self, uid: str, execution_sk: str) -> list[Order]:
        return [copy.deepcopy(o) for (u, _), o in sorted(self.orders_by_key.items())
                if u == uid and o.execution == execution_sk]  # fmt: skip

    def orders_on(self, uid: str, trade_date: str, *, consistent: bool = False) -> list[Order]:
        return [copy.deepcopy(o) for (u, sk), o in sorted(self.orders_by_key.items())
                if u == uid and sk.startswith(f"ORDER#{trade_date}#")]  # fmt: skip

    def unsettled_orders(self, uid: str, trade_date: str) -> list[Order]:
        return [o for o in self.orders_on(uid, trade_date)
                if o.status not in lc.TERMINAL or (o.filled_quantity > 0 and o.applied == 0)]  # fmt: skip

    def orders(self, uid: str, trade_date: str, order_ids: list[str]) -> list[Order]:
        found = {o.order_id: o for o in self.orders_on(uid, trade_date)}
        return [found[i] for i in dict.fromkeys(order_ids) if i in found]

    # -- orders: the lifecycle transitions --------------------------------------------------------
    def claim_order(self, order: Any, token: str, at: str) -> bool:
        return self._transition(
            "claim_order", order,
            {"status": lc.CLAIMED, "claim_token": token, "claimed_at": at},
            lambda o: o.status in lc.CLAIM_FROM or (o.status == lc.CLAIMED and o.claim_token == token),
            lambda o: o.status == lc.CLAIMED and o.claim_token == token,
        )  # fmt: skip

    def record_sent(self, order: Any, sent_at: str) -> None:
        self._hook("record_sent", order)
        order.status, order.sent_at = lc.SENT, sent_at
        order.created_at = order.updated_at = self._stamp()
        key = (order.uid, order.sk)
        if key in self.orders_by_key:
            _copy_into(order, self.orders_by_key[key], Order)
            if order.status != lc.SENT or order.sent_at != sent_at:
                raise DependencyUnavailable("order id already in use")
            return
        self.orders_by_key[key] = _as(Order, order)
        self.writes.append("record_sent")

    def record_ack(
        self,
        order: Any,
        broker_order_id: str,
        *,
        sent_at: str | None,
        acked_at: str,
        recovered: bool = False,
        message: str = "acknowledged",
    ) -> bool:
        def changes(stored: Order) -> dict[str, Any]:
            moves: dict[str, Any] = {
                "status": lc.OPEN, "broker_order_id": broker_order_id, "acked_at": acked_at,
            }  # fmt: skip
            if sent_at is not None and not stored.sent_at:
                moves["sent_at"] = sent_at
            if stored.status == lc.FAILED:
                moves["error"] = None
            return moves

        return self._transition(
            "record_ack", order, changes,
            lambda o: o.status in lc.ACK_FROM and o.broker_order_id in (None, broker_order_id),
            lambda o: o.broker_order_id == broker_order_id,
            append=_entry(acked_at, lc.OPEN, message, recovered=recovered),
        )  # fmt: skip

    def record_unknown(
        self, order: Any, error: dict[str, Any], *, at: str, sent_at: str | None = None
    ) -> bool:
        changes: dict[str, Any] = {"status": lc.UNKNOWN, "error": error}
        if sent_at is not None:
            changes["sent_at"] = sent_at
        return self._transition("record_unknown", order, changes,
                                lambda o: o.status in lc.UNKNOWN_FROM,
                                lambda o: o.status == lc.UNKNOWN,
                                append=_entry(at, lc.UNKNOWN, error.get("message", "")))  # fmt: skip

    def record_failed(
        self,
        order: Any,
        status: str,
        error: dict[str, Any],
        *,
        at: str,
        sent_at: str | None = None,
        claimed_before: str | None = None,
    ) -> bool:
        if status not in (lc.REJECTED, lc.FAILED):
            raise ValueError(f"record_failed cannot record {status}")
        changes: dict[str, Any] = {"status": status, "error": error}
        if sent_at is not None:
            changes["sent_at"] = sent_at
        stale = _stale(claimed_before)
        return self._transition(
            "record_failed", order, changes,
            lambda o: (o.status in lc.NEVER_SENT_FROM and o.broker_order_id is None and stale(o)),
            lambda o: o.status == status,
            append=_entry(at, status, error.get("message", "")),
        )  # fmt: skip

    def reopen_to_resend(
        self, order: Any, tag: str, reason: str, *, at: str, claimed_before: str | None = None
    ) -> bool:
        def changes(stored: Order) -> dict[str, Any]:
            return {
                "status": lc.BUILT, "tag": tag, "request": {**stored.request, "tag": tag},
                "resent_from": stored.tag, "claim_token": None, "claimed_at": None,
                "sent_at": None, "error": {"kind": "never_sent", "code": "resent", "message": reason},
            }  # fmt: skip

        stale = _stale(claimed_before)
        return self._transition(
            "reopen_to_resend", order, changes,
            lambda o: (o.status in lc.RESEND_FROM and o.broker_order_id is None
                       and o.resent_from is None and stale(o)),
            lambda o: o.status == lc.BUILT and o.tag == tag,
            append=_entry(at, lc.BUILT, reason, resent_as=tag),
        )  # fmt: skip

    def record_missed(self, order: Any, reason: str, *, at: str) -> bool:
        changes = {"status": lc.MISSED,
                   "error": {"kind": "missed", "code": "missed", "message": reason}}  # fmt: skip
        return self._transition("record_missed", order, changes,
                                lambda o: o.status in lc.MISSED_FROM and o.sent_at is None,
                                lambda o: o.status == lc.MISSED,
                                append=_entry(at, lc.MISSED, reason))  # fmt: skip

    def record_status(self, order: Any) -> bool:
        want = (order.status, order.filled_quantity)
        changes = {
            "status": order.status, "filled_quantity": order.filled_quantity,
            "average_price": order.average_price, "broker_order_id": order.broker_order_id or None,
            "acked_at": order.acked_at or None, "history": list(order.history or []),
        }  # fmt: skip
        return self._transition(
            "record_status", order, changes,
            lambda o: ((o.status in lc.POLL_FROM or o.status == want[0])
                       and (o.filled_quantity is None or o.filled_quantity <= want[1])),
            lambda o: (o.status, o.filled_quantity) == want,
        )  # fmt: skip

    # -- the claimer's own transitions -------------------------------------------------------------
    def renew_claim(
        self, order: Any, token: str, *, at: str, request: dict[str, Any] | None = None
    ) -> bool:
        changes: dict[str, Any] = {"claimed_at": at}
        if request is not None:
            changes["request"] = request
        return self._transition(
            "renew_claim", order, changes, _claimed_by(token),
            lambda o: o.status == lc.CLAIMED and o.claim_token == token and o.claimed_at == at,
        )  # fmt: skip

    def hold_back(self, order: Any, token: str, code: str, message: str, *, at: str) -> bool:
        changes = {"error": {"kind": "never_sent", "code": code, "message": message}}
        return self._transition(
            "hold_back", order, changes, _claimed_by(token),
            lambda o: o.status == lc.CLAIMED and (o.error or {}).get("code") == code,
            append=_entry(at, lc.CLAIMED, message),
        )  # fmt: skip

    def cancel_unsent(self, order: Any, token: str, code: str, message: str, *, at: str) -> bool:
        changes = {"status": lc.CANCELLED, "error": {"code": code, "message": message}}
        return self._transition(
            "cancel_unsent", order, changes, _claimed_by(token),
            lambda o: o.status == lc.CANCELLED and (o.error or {}).get("code") == code,
            append=_entry(at, lc.CANCELLED, message),
        )  # fmt: skip

    # -- positions and fills -----------------------------------------------------------------------
    def positions(
        self, uid: str, strategy_id: str | None = None, *, consistent: bool = False
    ) -> list[Position]:
        prefix = f"POS#{strategy_id}#" if strategy_id else "POS#"
        return [copy.deepcopy(p) for (u, sk), p in sorted(self.positions_by_key.items())
                if u == uid and sk.startswith(prefix)]  # fmt: skip

    def apply_fill(
        self, order: Any, symbol: str, contract: dict[str, Any], quantity: int, price: Decimal
    ) -> bool:
        """The adapter's ``apply_fill``: the difference between ``quantity`` and the level the
        position holds, once, with the order; a refused step is never taken for "applied"."""
        for _ in range(FILL_ATTEMPTS):
            done, done_value = applied_so_far(order)
            if quantity <= done:
                keep_applied(order, done, done_value)
                return False
            total = price * quantity
            delta, delta_value = quantity - done, total - done_value
            fill_id = f"{order.broker_order_id or order.tag}:{quantity}"
            at = self._stamp()
            fill = {"id": fill_id, "quantity": delta, "value": str(delta_value), "at": at}
            key = (order.uid, position_sk(order.strategy_id, order.account_id, symbol))
            read = self.positions_by_key.get(key)
            position = copy.deepcopy(read) if read is not None else Position(
                sk=key[1], uid=order.uid, strategy_id=order.strategy_id,
                account_id=order.account_id, symbol=symbol, contract=copy.deepcopy(contract),
            )  # fmt: skip
            add_fill(position, order.request["side"], delta, delta_value)
            position.updated_at = at
            self._hook("apply_fill", order)
            stored = self.orders_by_key[(order.uid, order.sk)]
            unchanged = (
                stored.applied_quantity is None and stored.applied == 0
                if order.applied_quantity is None
                else stored.applied_quantity == done
            )
            working = stored.status in lc.POLL_FROM or stored.status == order.status
            current = self.positions_by_key.get(key)
            same_version = (current.version if current else None) == position.version
            if not (unchanged and working and same_version):
                stored_done, stored_value = applied_so_far(stored)
                # every refusal here is a lost race (the adapter's transient errors aside)
                moved_on = stored.status in lc.TERMINAL and stored.status != order.status
                if stored_done >= quantity or moved_on:
                    keep_applied(order, stored_done, stored_value, copy.deepcopy(stored.fills))
                    return False
                order.applied_quantity = stored.applied_quantity
                order.applied_value = stored.applied_value
                order.applied = stored.applied
                order.fills = copy.deepcopy(stored.fills)
                continue
            position.version = (position.version or 0) + 1
            self.positions_by_key[key] = position
            order.filled_quantity = quantity
            order.average_price = str(price)
            keep_applied(order, quantity, total, [*(order.fills or []), fill])
            order.updated_at = at
            written = ["status", "filled_quantity", "average_price", "applied_quantity",
                       "applied_value", "applied", "fills", "history", "updated_at"]  # fmt: skip
            written += [name for name in ("broker_order_id", "acked_at") if getattr(order, name)]
            for name in written:
                setattr(stored, name, copy.deepcopy(getattr(order, name)))
            self.writes.append("apply_fill")
            return True
        raise DependencyUnavailable("the position kept changing; fill not applied yet")

    # -- other stores settlement and recovery read -------------------------------------------------
    def get_strategy(self, uid: str, strategy_id: str) -> Strategy:
        found = self.strategies.get((uid, strategy_id))
        if found is None:
            raise NotFound("strategy not found")
        return copy.deepcopy(found)

    def all_accounts(self) -> list[Account]:
        return copy.deepcopy(self.accounts)

    # -- plumbing ----------------------------------------------------------------------------------
    def _hook(self, operation: str, record: Any) -> None:
        if self.before_write is not None:
            self.before_write(operation, record)

    def _execution_for_write(self, operation: str, item: Any) -> Execution:
        self._hook(operation, item)
        stored = self.executions_by_key.get((item.uid, item.sk))
        if stored is None:
            raise NotFound("execution not found")
        self.writes.append(operation)
        return stored

    def _transition(
        self,
        operation: str,
        order: Any,
        changes: dict[str, Any] | Callable[[Order], dict[str, Any]],
        condition: Check,
        reached: Check,
        *,
        append: dict[str, Any] | None = None,
    ) -> bool:
        """One conditional update of a stored order (the adapter's ``_transition``); ``append``
        goes onto the stored history, whatever the caller's copy holds (the adapter's
        ``_append``), and ``changes`` may be read from the stored order."""
        self._hook(operation, order)
        stored = self.orders_by_key.get((order.uid, order.sk))
        if stored is None or not condition(stored):
            if stored is not None:
                _copy_into(order, stored, Order)
            return reached(order) if stored is not None else False
        if callable(changes):
            changes = changes(stored)
        if append is not None:
            changes = {**changes, "history": [*(stored.history or []), append]}
        for name, value in changes.items():
            setattr(stored, name, copy.deepcopy(value))
        stored.updated_at = self._stamp()
        _copy_into(order, stored, Order)
        self.writes.append(operation)
        return True
