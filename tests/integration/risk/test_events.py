"""Events are their own items: append-only, read back in order, no 400 KB ceiling on a busy
day, and concurrent writers never lose one another's events."""

from __future__ import annotations

import threading

from tests.integration.risk.harness import SHORT_SL30, Scenario, Sim


def test_a_busy_days_events_outgrow_the_item_limit_and_stay_in_order(sim: Sim):
    s = Scenario(sim, [SHORT_SL30], {})
    s.enter()
    padding = "x" * 400
    for n in range(1200):  # about 600 KB: more than one DynamoDB item may hold
        s.engine.record_event(sim.uid, s.execution.sk, {"kind": "trail", "n": n, "pad": padding})
    trails = [e["n"] for e in s.events("trail")]
    assert trails == list(range(1200))
    execution = sim.container.executions.get_execution(sim.uid, s.execution.sk)
    assert not [e for e in execution.events or [] if e["kind"] == "trail"]  # not on the item


def test_concurrent_writers_lose_no_event(sim: Sim):
    s = Scenario(sim, [SHORT_SL30], {})
    s.enter()

    def write(who: str) -> None:
        for n in range(40):
            s.engine.record_event(sim.uid, s.execution.sk, {"kind": "alert", "who": who, "n": n})

    threads = [threading.Thread(target=write, args=(w,)) for w in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen = [(e["who"], e["n"]) for e in s.events("alert")]
    assert sorted(seen) == sorted((w, n) for w in "abc" for n in range(40))
    for who in "abc":  # each writer's events in the order it wrote them
        assert [n for w, n in seen if w == who] == list(range(40))
    kinds = [e["kind"] for e in s.events()]
    assert kinds.index("risk_armed") < kinds.index("stop_placed")
