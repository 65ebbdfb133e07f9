"""The states an order item can be in, and which transitions the execution store allows.

One state machine for every order the platform places (entries, exits, unwinds, stops, kill-switch
square-offs); docs/order-lifecycle.md draws it. Each transition is one named conditional operation
of ``ExecutionRepository``; the condition is the set of states a transition may start from, kept
here so the store, the recovery sweep and the API agree on one list.

Stored names (kept from the first schema, so existing items stay readable):

======== ======================== =======================================================
stored   lifecycle name           meaning
======== ======================== =======================================================
BUILT    built                    request stored before T; nobody has claimed it
SENDING  claimed                  one firer owns it; the request may leave at any moment
SENT     sent                     written just before the request left (write-ahead)
UNKNOWN  outcome unknown          the request may have reached the broker; recovery decides
OPEN     acknowledged             the broker holds it (broker order id known)
PARTIAL  partially filled         acknowledged, some quantity filled, still resting
COMPLETE complete                 terminal: fully filled
REJECTED rejected                 terminal: the broker refused it
CANCELLED cancelled               terminal: cancelled (by us, the broker, or never needed)
FAILED   failed-never-sent        terminal: the broker never received it
MISSED   missed                   terminal: an entry not sent within its allowed delay
======== ======================== =======================================================
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.domain.calendar import IST

BUILT = "BUILT"
CLAIMED = "SENDING"
SENT = "SENT"
UNKNOWN = "UNKNOWN"
OPEN = "OPEN"
PARTIAL = "PARTIAL"
COMPLETE = "COMPLETE"
REJECTED = "REJECTED"
CANCELLED = "CANCELLED"
FAILED = "FAILED"  # failed-never-sent
MISSED = "MISSED"

ALL = (BUILT, CLAIMED, SENT, UNKNOWN, OPEN, PARTIAL, COMPLETE, REJECTED, CANCELLED, FAILED, MISSED)
TERMINAL = frozenset({COMPLETE, REJECTED, CANCELLED, FAILED, MISSED})
#: Terminal without the full quantity: a leg failure for the entry's policy.
UNFILLED = frozenset({REJECTED, CANCELLED, FAILED, MISSED})
#: The request may be at the broker but the platform has no broker id: only a tag lookup knows.
IN_DOUBT = frozenset({CLAIMED, SENT, UNKNOWN})
#: At the broker, not finished: settlement polls these by broker id.
WORKING = frozenset({OPEN, PARTIAL})

# -- the condition of each named transition (the states it may start from) -----------------------
#: claim: BUILT -> SENDING (or SENDING by the same claim token: a retried write that succeeded).
CLAIM_FROM = frozenset({BUILT})
#: record sent (acknowledged): the broker's word wins over a recovery guess of "never sent".
ACK_FROM = frozenset({CLAIMED, SENT, UNKNOWN, FAILED})
#: record unknown: only while no broker id is known.
UNKNOWN_FROM = frozenset({CLAIMED, SENT})
#: record never sent / refused: before the broker acknowledged anything.
NEVER_SENT_FROM = frozenset({BUILT, CLAIMED, SENT, UNKNOWN})
#: reopen to resend (closing orders absent at the broker at every lookup): back to BUILT, once.
RESEND_FROM = frozenset({CLAIMED, SENT, UNKNOWN})
#: Phases that close positions: always sent, however late; resent once when never received.
#: (Kill-switch square-offs, phase ``KILL...``, are resent by the operation's next pass.)
RESENT_PHASES = frozenset({"EXIT", "UNWIND"})
#: record missed: an entry too late to send, never claimed by a sender that sent it.
MISSED_FROM = frozenset({BUILT, CLAIMED})
#: record a broker status (poll): acknowledged and not finished.
POLL_FROM = frozenset({OPEN, PARTIAL, UNKNOWN, SENT, CLAIMED})

#: How long a claim belongs to its claimer (seconds since ``claimed_at``, which the exit guard
#: renews just before the request leaves): until then nobody else records the order never sent
#: or resends it, however absent it is at the broker, so a live firer pacing a batch, waiting for
#: the close lease or slowed by the machine can never see its claimed order failed and closed by
#: someone else while it sends it (a double close). The recovery sweep's resend waits as long.
CLAIM_LIFETIME_SECONDS = 60.0


def stale_claims_before(now: datetime, lifetime: float = CLAIM_LIFETIME_SECONDS) -> str:
    """The ``claimed_at`` stamp before which a claim is stale (its claimer is gone). Stamps are
    ISO strings in Asia/Kolkata, so the store compares them as strings in its conditions."""
    return (now - timedelta(seconds=lifetime)).astimezone(IST).isoformat(timespec="microseconds")
