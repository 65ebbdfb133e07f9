"""The firer's records after the sends: each order's outcome through the store, and the alerts.

Isolation: a failed record of one order never stops the others (the order stays claimed and the
recovery sweep resolves it by tag); an alert that cannot be recorded as an execution event still
reaches the operator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.records import OrderRecord
from chalicelib.ports.firing import FireStore
from chalicelib.services.fire_outcome import DEFAULT_MAX_ENTRY_DELAY, Sent, iso_stamp
from chalicelib.services.order_sender import error_doc

log = logging.getLogger(__name__)
#: (subject, details) -> an operator alert (SNS on AWS, the log locally).
Alert = Callable[[str, dict[str, Any]], None]


@dataclass
class FireRecorder:
    """Records one fire's outcomes; ``at`` names each lifecycle step (the fault matrix's crashes)."""

    executions: FireStore
    alert: Alert | None
    at: Callable[[str, OrderRecord], None]

    def record_all(self, results: list[Sent]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for result in results:
            name = {lc.OPEN: "sent", lc.UNKNOWN: "unknown", lc.MISSED: "missed"}.get(
                result.outcome, "failed"
            )
            counts[name] = counts.get(name, 0) + 1
            try:
                self.record(result)
            except Exception:  # the order stays claimed: the recovery sweep resolves it by tag
                log.exception("order outcome not recorded", extra={"order": result.order.order_id})
        return counts

    def record(self, result: Sent) -> None:
        order, stamp = result.order, iso_stamp(result.sent_at)
        store = self.executions
        if result.ack is not None and result.acked_at is not None:
            store.record_ack(order, result.ack.order_id, sent_at=stamp,
                             acked_at=iso_stamp(result.acked_at), recovered=result.ack.recovered)  # fmt: skip
            self.at("after_ack", order)
            return
        if result.outcome == lc.MISSED:
            reason = (
                f"not sent: more than {order.max_delay_seconds or DEFAULT_MAX_ENTRY_DELAY} s "
                f"after {order.scheduled_at} when its turn came"
            )
            if store.record_missed(order, reason, at=stamp):
                self.alarm("entry missed", order, reason, code="entry_missed")
            return
        error = result.error or RuntimeError("no acknowledgement")
        doc = error_doc(error)
        sent_at = stamp if result.left else None
        if result.outcome == lc.UNKNOWN:
            store.record_unknown(order, doc, at=stamp, sent_at=sent_at)
            self.alarm("order outcome unknown", order, doc["message"], code="order_outcome_unknown")
        else:
            store.record_failed(order, result.outcome, doc, at=stamp, sent_at=sent_at)
        log.warning(
            "order not acknowledged",
            extra={"order": order.order_id, "code": doc["kind"], "status": result.outcome},
        )

    def alarm(self, subject: str, order: OrderRecord, message: str, code: str) -> None:
        """The operator's alert, and an alert event on the execution so the trader is told too
        (urgent: an order nobody knows the fate of, or an entry that was not sent)."""
        details = {
            "user": order.uid, "strategy": order.strategy_id, "account": order.account_id,
            "order": order.order_id, "tag": order.tag, "message": message,
        }  # fmt: skip
        fields = {k: v for k, v in details.items() if k != "message"}  # a reserved log key
        log.warning("%s: %s", subject, message, extra=fields)
        try:
            execution = self.executions.get_execution(order.uid, order.execution)
            self.executions.add_event(
                execution,
                {"kind": "alert", "code": code, "account_id": order.account_id,
                 "order": order.order_id, "symbol": leg_name(order), "message": message},
            )  # fmt: skip
        except Exception:  # the operator alert below still goes out
            log.exception("alert event not recorded", extra=fields)
        if self.alert is not None:
            try:
                self.alert(subject, details)
            except Exception:
                log.exception("alert not delivered", extra=details)


def leg_name(order: OrderRecord) -> str:
    """``SELL 65 NIFTY 24500 CE 2026-12-01``: what a trader recognises at the broker."""
    request = order.request or {}
    keys = ("side", "quantity", "underlying", "strike", "option_type", "expiry")
    return " ".join(str(request[k]) for k in keys if request.get(k) is not None) or order.tag
