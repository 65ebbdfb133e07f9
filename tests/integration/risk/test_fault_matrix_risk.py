"""The fault matrix of the risk engine's actors: a crash at each step of a risk order's send, for
the stop (placed at arming, filled at the exchange), the target close and the re-entry; then a
restarted monitor and one recovery sweep. For every cell, after recovery:

* each order reached the fake broker at most once (no tag placed twice),
* at most one stop rests per guarded position,
* the platform's positions equal the fake broker's positions,
* no risk order is left claimed, sent or unknown (its truth is known), and every fill is applied.

Steps: before the claim (the intent stored, not yet in the book), after the claim (in the book,
not sent), after the send before the record, after the acknowledgement before settlement, inside
fill application. The crash is a BaseException raised at the engine's / settlement's checkpoint:
nothing catches it, like a killed process. (Entry, exit and kill-switch actors:
``tests/integration/test_fault_matrix.py``.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.risk.harness import SHORT_SL30, Crash, Scenario, Sim

STEPS = ("before_claim", "after_claim", "after_send", "after_ack", "in_fill")
TARGET = {**SHORT_SL30, "target": {"type": "POINTS", "value": "20"}}
RE_ASAP = {"side": "SELL", "stop_loss": {"type": "POINTS", "value": "10"},
           "re_entry": {"mode": "RE_ASAP", "max_count": 1}}  # fmt: skip
ACTORS: dict[str, tuple[dict[str, Any], str, str]] = {
    # actor: (leg, the phase of the order that crashes, the premium that sets it off)
    "stop": (SHORT_SL30, "STOP", "131.00"),
    "target": (TARGET, "RISKX", "79.00"),
    "reentry": (RE_ASAP, "REENTRY", "111.00"),
}
IN_DOUBT = {"SENDING", "SENT", "UNKNOWN"}
#: Cells another scenario already runs the same way (kept out to save the suite's time):
#: stop/after_send ``test_write_before_send::test_a_crash_right_after_the_stop_was_placed_...``,
#: target/after_send ``test_write_before_send::test_a_crash_right_after_the_close_was_sent_...``
#: (and with a real SIGKILL, ``test_sigkilled_monitor``), reentry/after_send
#: ``test_crash_on_other_paths::test_a_crash_right_after_a_re_entry_was_sent``.
ELSEWHERE = {("stop", "after_send"), ("target", "after_send"), ("reentry", "after_send")}
CELLS = [(a, s) for a in sorted(ACTORS) for s in STEPS if (a, s) not in ELSEWHERE]


def crash_at(step: str, phase: str) -> Callable[[str, Any], None]:
    """A checkpoint that kills the monitor the first time ``step`` is reached for ``phase``."""
    fired = []

    def checkpoint(reached: str, order: Any) -> None:
        if reached == step and order.phase == phase and not fired:
            fired.append(order.tag)
            raise Crash(f"died at {step} ({order.tag})")

    return checkpoint


def crash(s: Scenario, run: Callable[[], Any]) -> None:
    with pytest.raises(Crash):
        run()


def recover(s: Scenario) -> None:
    """A restarted monitor (past the broker's order-book lag) and one recovery sweep."""
    s.engine = s.fresh_engine()
    s.steps(2)
    s.steps(2, seconds=6)
    s.sim.container.recovery.sweep(users=[s.sim.uid])
    s.steps(1)


@pytest.mark.parametrize(("actor", "step"), CELLS)
def test_risk_actor_crash_then_recovery(sim: Sim, actor: str, step: str):
    leg, phase, premium = ACTORS[actor]
    s = Scenario(sim, [leg], {})
    lot = s.contracts[0].lot_size
    if step == "in_fill":
        s.enter()
        s.engine.settlement.checkpoint = crash_at(step, phase)
    elif actor == "stop":  # the stop is placed by arming, right after the entry settles
        s.engine.checkpoint = crash_at(step, phase)
        crash(s, s.enter)
    else:
        s.enter()
        s.engine.checkpoint = crash_at(step, phase)
    if not (actor == "stop" and step != "in_fill"):
        s.price(0, premium)
        sim.clock.advance()
        crash(s, lambda: s.engine.step(s.book(), s.now))
    recover(s)
    if actor == "stop" and step != "in_fill":  # the recovered stop protects, then fills
        assert sum(s.resting_stops().values()) == 1
        s.price(0, premium)
        s.steps(2)
    expected = -lot if actor == "reentry" else 0
    assert s.broker_position(0) == expected
    orders = s.orders()
    statuses = Counter(o.status for o in orders)
    print(  # the matrix row (pytest -s or -rA shows it)
        f"MATRIX {actor}/{step}: orders={dict(statuses)} broker_orders={len(s.placed())} "
        f"position={s.broker_position(0)} guards={[g['state'] for g in s.guards()]}"
    )
    assert not [o.order_id for o in orders if o.status in IN_DOUBT]
    assert all(o.applied for o in orders if int(o.filled_quantity or 0))
    placed = {p["tag"] for p in s.placed()}
    assert not [o.tag for o in orders if o.status == "BUILT" and o.tag in placed]
    if actor == "reentry":
        assert sum(s.resting_stops().values()) == 1  # the re-entered position is guarded
    s.check()
