"""Execution events as their own items: append-only, one item per event, read back in order.

Events used to be a list on the execution item, and every append rewrote the whole list without
a condition: two writers (the monitor and settlement, two monitors) could lose one another's
event, and a busy day (a trailing stop modified every few seconds, a chase re-pricing a close)
grows the item towards DynamoDB's 400 KB limit, after which nothing more could be recorded.

Now each event is one item under the user's partition, SK
``EVENT#<execution SK>#<at>#<seq>``: a put that never overwrites (``attribute_not_exists``) and
a consistent Query by prefix (paged by PynamoDB) reads them back in key order, which is time
order (``at`` is an ISO instant in IST, ``seq`` orders one process's events within a
millisecond). Lists written before this change stay on the execution item and are read first.
"""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from pynamodb.attributes import JSONAttribute, UnicodeAttribute

from chalicelib.adapters.dynamo.models import BaseItem, ExecutionItem, user_pk
from chalicelib.adapters.dynamo.repository import guarded, now_iso

_sequence = itertools.count()


class EventItem(BaseItem, discriminator="EVENT"):
    uid = UnicodeAttribute()
    execution = UnicodeAttribute()  # the ExecutionItem SK the event belongs to
    body = JSONAttribute()  # the event as shown by the API, with its "at"

    @staticmethod
    def key(uid: str, execution_sk: str, at: str, seq: str) -> tuple[str, str]:
        return user_pk(uid), f"{EventItem.prefix(execution_sk)}{at}#{seq}"

    @staticmethod
    def prefix(execution_sk: str) -> str:
        return f"EVENT#{execution_sk}#"


def append_event(uid: str, execution_sk: str, event: dict[str, Any]) -> dict[str, Any]:
    """Record one event (never overwriting another); returns it as stored."""
    stamped = {"at": now_iso(), **event}
    seq = f"{next(_sequence) % 1_000_000:06d}{secrets.token_hex(3)}"
    item = EventItem(
        *EventItem.key(uid, execution_sk, str(stamped["at"]), seq),
        uid=uid,
        execution=execution_sk,
        body=stamped,
    )
    item.created_at = item.updated_at = now_iso()
    guarded(lambda: item.save(EventItem.pk.does_not_exist()))
    return stamped


def events_of(uid: str, execution_sk: str) -> list[dict[str, Any]]:
    """Every event of the execution, oldest first (consistent: an event just written is seen)."""
    return guarded(
        lambda: [
            item.body
            for item in EventItem.query(
                user_pk(uid),
                BaseItem.sk.startswith(EventItem.prefix(execution_sk)),
                consistent_read=True,
            )
        ]
    )


def execution_events(execution: ExecutionItem) -> list[dict[str, Any]]:
    """The execution's events: the list kept on the item before this change, then the items."""
    return [*(execution.events or []), *events_of(execution.uid, execution.sk)]
