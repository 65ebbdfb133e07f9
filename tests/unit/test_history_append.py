"""The execution store's history append when other actors keep appending: each attempt is made
from the copy the previous one re-read, and the last one drops the history condition, so the
transition itself is never lost to a busy history (``ConditionalWrites._append``).

The conditional write is replaced at its edge (``_transition``): a stand-in that plays the table,
where another actor appends a line before each of the first attempts lands."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamo.conditional_writes import APPEND_ATTEMPTS, ConditionalWrites
from chalicelib.adapters.dynamo.models import OrderItem
from chalicelib.domain import order_lifecycle as lc

ENTRY = {"at": "t", "status": lc.OPEN, "message": "acknowledged"}


class BusyHistory(ConditionalWrites):
    """Refuses (history moved) the first ``busy`` attempts that carry the history condition."""

    def __init__(self, busy: int) -> None:
        self.busy = busy
        self.attempts: list[tuple[Any, list[Any]]] = []

    def _transition(self, order: Any, actions: list[Any], condition: Any, reached: Any,
                    **_: Any) -> bool:  # fmt: skip
        self.attempts.append((condition, actions))
        if self.busy and condition is not STATE:
            self.busy -= 1
            order.history = [*(order.history or []), {"by": f"other-{len(self.attempts)}"}]
            return reached(order)
        order.history = _history_written(actions)
        return True


STATE = OrderItem.status.is_in(*lc.ACK_FROM)


def _history_written(actions: list[Any]) -> list[dict[str, Any]]:
    [history] = [a for a in actions if a.values[0].attribute is OrderItem.history]
    return list(OrderItem.history.deserialize(history.values[1].value["S"]))


def _order() -> OrderItem:
    return OrderItem("USER#u", "ORDER#2026-11-25#o1", uid="u", order_id="o1", status=lc.SENT,
                     history=[{"by": "firer"}])  # fmt: skip


def _ack(store: BusyHistory, order: OrderItem) -> bool:
    return store._append(order, ENTRY, lambda o: [OrderItem.status.set(lc.OPEN)], STATE,
                         lambda o: False)  # fmt: skip


def test_a_moved_history_is_appended_to_from_the_fresh_copy():
    store, order = BusyHistory(busy=1), _order()
    assert _ack(store, order)
    assert len(store.attempts) == 2
    assert all(condition is not STATE for condition, _ in store.attempts)  # both guarded
    assert order.history == [{"by": "firer"}, {"by": "other-1"}, ENTRY]


def test_the_last_attempt_lands_without_the_history_condition():
    store, order = BusyHistory(busy=APPEND_ATTEMPTS), _order()
    assert _ack(store, order)
    assert len(store.attempts) == APPEND_ATTEMPTS
    assert store.attempts[-1][0] is STATE  # the transition is recorded, history or not
    assert order.history[-1] == ENTRY


def test_a_refusal_with_an_unchanged_history_is_not_retried():
    class Refusing(BusyHistory):
        def _transition(self, order: Any, actions: list[Any], condition: Any, reached: Any,
                        **_: Any) -> bool:  # fmt: skip
            self.attempts.append((condition, actions))
            return False  # the state moved (another broker id): nothing to retry

    store = Refusing(busy=0)
    assert not _ack(store, _order())
    assert len(store.attempts) == 1
