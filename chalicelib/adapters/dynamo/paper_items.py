"""The paper book in the table: one item per paper order, written only conditionally.

``PK = PAPER#<uid>#<account>``, ``SK = ORDER#<order_id>`` where the order id starts with its
trading day (``YYYYMMDD``), so a day's book is one query. Every write after the first is
conditioned on the version the writer read: two actors matching the same order at once (the
settlement poll, the recovery sweep, the risk monitor, the periodic sweep) cannot both fill it;
the loser re-reads and matches the new state. While an order can still fill it sits in the
sparse GSI1 partition ``PAPER_OPEN`` (dropped when it ends), which the periodic sweep reads.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import GetError, PutError, QueryError

from chalicelib.adapters.dynamo.models import BaseItem
from chalicelib.adapters.dynamo.repository import _lost_race, now_iso
from chalicelib.domain.paper_matching import BookOrder
from chalicelib.errors import DependencyUnavailable

OPEN_PARTITION = "PAPER_OPEN"
KEEP_FOR = timedelta(days=400)  # a year of forward testing stays readable, then TTL sweeps it


class PaperOrderItem(BaseItem, discriminator="PAPER_ORDER"):
    uid = UnicodeAttribute()
    account_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    tag = UnicodeAttribute()
    symbol = UnicodeAttribute()
    contract = UnicodeAttribute()  # underlying|expiry|strike|type|exchange|lot|tick
    side = UnicodeAttribute()
    quantity = NumberAttribute()
    lot_size = NumberAttribute()
    order_type = UnicodeAttribute()
    price = UnicodeAttribute()
    trigger = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    trading_day = UnicodeAttribute()
    filled_quantity = NumberAttribute(default=0)
    average_price = UnicodeAttribute(null=True)
    triggered = BooleanAttribute(default=False)
    message = UnicodeAttribute(default="")
    revision = NumberAttribute(default=0)

    @staticmethod
    def key(uid: str, account_id: str, order_id: str) -> tuple[str, str]:
        return f"PAPER#{uid}#{account_id}", f"ORDER#{order_id}"


def _to_order(item: PaperOrderItem) -> BookOrder:
    return BookOrder(
        order_id=item.order_id,
        tag=item.tag,
        symbol=item.symbol,
        side=item.side,
        quantity=int(item.quantity),
        lot_size=int(item.lot_size),
        order_type=item.order_type,
        price=Decimal(item.price),
        trigger=Decimal(item.trigger) if item.trigger else None,
        status=item.status,
        trading_day=date.fromisoformat(item.trading_day),
        filled_quantity=int(item.filled_quantity or 0),
        average_price=Decimal(item.average_price) if item.average_price else None,
        triggered=bool(item.triggered),
        message=item.message or "",
        version=int(item.revision or 0),
    )


class DynamoPaperBook:
    """The paper book's storage port on the single table (``paper_book.PaperBookStore``)."""

    def read(self, uid: str, account_id: str, order_id: str) -> tuple[BookOrder, str] | None:
        item = self._item(uid, account_id, order_id)
        return (_to_order(item), item.contract) if item else None

    def create(self, uid: str, account_id: str, order: BookOrder, contract: str) -> bool:
        """Insert a new order; False when the id exists (never overwrites)."""
        return self._write(uid, account_id, order, contract, new=True)

    def save(self, uid: str, account_id: str, order: BookOrder, contract: str) -> bool:
        """Write ``order`` if nobody wrote since it was read (its ``version``); False otherwise.
        The stored version becomes ``order.version + 1``."""
        return self._write(uid, account_id, order, contract, new=False)

    def day(self, uid: str, account_id: str, on: date) -> list[BookOrder]:
        pk, _ = PaperOrderItem.key(uid, account_id, "")
        try:
            items = PaperOrderItem.query(
                pk,
                PaperOrderItem.sk.startswith(f"ORDER#{on:%Y%m%d}"),
                consistent_read=True,
            )
            return [_to_order(i) for i in items]
        except QueryError as error:
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error

    def open_orders(self) -> list[tuple[str, str, str]]:
        """(uid, account, order id) of every order that can still fill (eventually consistent)."""
        try:
            items = PaperOrderItem.gsi1.query(OPEN_PARTITION)
            return [(i.uid, i.account_id, i.order_id) for i in items]
        except QueryError as error:
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error

    def _item(self, uid: str, account_id: str, order_id: str) -> PaperOrderItem | None:
        try:
            return PaperOrderItem.get(
                *PaperOrderItem.key(uid, account_id, order_id), consistent_read=True
            )
        except PaperOrderItem.DoesNotExist:
            return None
        except GetError as error:
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error

    def _write(
        self, uid: str, account_id: str, order: BookOrder, contract: str, *, new: bool
    ) -> bool:
        pk, sk = PaperOrderItem.key(uid, account_id, order.order_id)
        item = PaperOrderItem(
            pk,
            sk,
            uid=uid,
            account_id=account_id,
            order_id=order.order_id,
            tag=order.tag,
            symbol=order.symbol,
            contract=contract,
            side=order.side,
            quantity=order.quantity,
            lot_size=order.lot_size,
            order_type=order.order_type,
            price=str(order.price),
            trigger=str(order.trigger) if order.trigger is not None else None,
            status=order.status,
            trading_day=order.trading_day.isoformat(),
            filled_quantity=order.filled_quantity,
            average_price=str(order.average_price) if order.average_price is not None else None,
            triggered=order.triggered,
            message=order.message,
            revision=0 if new else order.version + 1,
            ttl=datetime.combine(order.trading_day, datetime.min.time(), UTC) + KEEP_FOR,
        )
        if not order.terminal:
            item.gsi1pk, item.gsi1sk = OPEN_PARTITION, f"{uid}#{account_id}#{order.order_id}"
        item.created_at = item.updated_at = now_iso()
        condition = (
            PaperOrderItem.pk.does_not_exist() if new else PaperOrderItem.revision == order.version
        )
        try:
            item.save(condition=condition)
        except PutError as error:
            if _lost_race(error):
                return False
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error
        return True
