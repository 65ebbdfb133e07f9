"""What every store of the single table shares: consistent gets and user queries, and
TransactWrites on the one reused connection, each behind ``guarded``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pynamodb.connection import Connection
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo.guarded import guarded
from chalicelib.adapters.dynamo.models import BaseItem, transaction_connection, user_pk
from chalicelib.errors import NotFound

T = TypeVar("T", bound=BaseItem)
TRANSACTION_LIMIT = 100


class TableAccess:
    """The plumbing the ``Repository``'s parts build on (see ``repository.py``)."""

    def __init__(self, schedule_shards: int) -> None:
        self.schedule_shards = schedule_shards

    def _connection(self) -> Connection:
        return transaction_connection()

    def _get(self, model: type[T], key: tuple[str, str]) -> T:
        def load() -> T:
            try:
                return model.get(*key, consistent_read=True)
            except model.DoesNotExist:
                raise NotFound(f"{model.__name__.removesuffix('Item').lower()} not found") from None

        return guarded(load)

    def _query_user(self, model: type[T], uid: str, prefix: str) -> list[T]:
        """A user's items of one kind: base-table Query, strongly consistent (a write that
        returned is always seen, which the basket and schedule invariants rely on)."""
        return guarded(
            lambda: list(
                model.query(user_pk(uid), BaseItem.sk.startswith(prefix), consistent_read=True)
            )
        )

    def _transact(self, write: Callable[[TransactWrite], None]) -> None:
        def run() -> None:
            with TransactWrite(connection=self._connection()) as transaction:
                write(transaction)

        guarded(run)
