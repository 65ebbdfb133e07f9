"""PynamoDB models of the single table.

One base model owns the generic physical keys (PK, SK, GSI1*, GSI2*), the `type` discriminator and
`ttl`; entities subclass it (without a Meta of their own) and build their own keys. Terraform owns
the table (infra/dynamodb.tf); tests check the two agree.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    DiscriminatorAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from chalicelib.adapters.aws.shared_session import with_client

# What the planner reads from a schedule item; GSI2 projects exactly these (infra/dynamodb.tf).
SCHEDULE_PROJECTION = [
    "type",
    "uid",
    "strategy_id",
    "account_id",
    "phase",
    "fire_time",
    "payload",
    "strategy_version",
]


class GSI1(GlobalSecondaryIndex["BaseItem"]):
    """Parent/child and lookups: strategies of a basket, orders of an execution, OAuth state."""

    class Meta:
        index_name = "GSI1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True, attr_name="GSI1PK")
    gsi1sk = UnicodeAttribute(range_key=True, attr_name="GSI1SK")


class GSI2(GlobalSecondaryIndex["BaseItem"]):
    """The strategy-leg schedule index: SLOT#<DOW>#<HHMM>#<shard> -> what is due at that minute."""

    class Meta:
        index_name = "GSI2"
        projection = IncludeProjection(SCHEDULE_PROJECTION)

    gsi2pk = UnicodeAttribute(hash_key=True, attr_name="GSI2PK")
    gsi2sk = UnicodeAttribute(range_key=True, attr_name="GSI2SK")


class BaseItem(Model):
    class Meta:
        table_name = "unbound"  # bound at start-up by bind_table()
        region = "ap-south-1"

    pk = UnicodeAttribute(hash_key=True, attr_name="PK")
    sk = UnicodeAttribute(range_key=True, attr_name="SK")
    gsi1pk = UnicodeAttribute(null=True, attr_name="GSI1PK")
    gsi1sk = UnicodeAttribute(null=True, attr_name="GSI1SK")
    gsi2pk = UnicodeAttribute(null=True, attr_name="GSI2PK")
    gsi2sk = UnicodeAttribute(null=True, attr_name="GSI2SK")
    type = DiscriminatorAttribute(attr_name="type")
    ttl = TTLAttribute(null=True, attr_name="ttl")
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)

    gsi1 = GSI1()
    gsi2 = GSI2()

    @classmethod
    def _get_connection(cls) -> Any:
        """PynamoDB's per-class connection, its client built from the process's one session."""
        table = super()._get_connection()
        with_client(table.connection)
        return table


def user_pk(uid: str) -> str:
    return f"USER#{uid}"


class ProfileItem(BaseItem, discriminator="PROFILE"):
    uid = UnicodeAttribute()
    email = UnicodeAttribute()
    name = UnicodeAttribute()
    phone = UnicodeAttribute()
    state = UnicodeAttribute()

    @staticmethod
    def key(uid: str) -> tuple[str, str]:
        return user_pk(uid), "PROFILE"


class AccountItem(BaseItem, discriminator="ACCOUNT"):
    uid = UnicodeAttribute()
    account_id = UnicodeAttribute()
    broker = UnicodeAttribute()
    client_id = UnicodeAttribute()
    label = UnicodeAttribute()
    status = UnicodeAttribute(default="ACTIVE")
    static_ip_note = UnicodeAttribute(null=True)
    # KMS envelope: the data key encrypted by KMS, and the secrets encrypted by the data key.
    secret_blob = JSONAttribute(null=True)
    # A paper account's quote source: another (live) account of the same user; None = the
    # simulated exchange where one is configured (docs/paper.md).
    quote_account_id = UnicodeAttribute(null=True)
    # Day limits in rupees (Decimal text; None: no limit) and the day one was reached:
    # {date, kind LOSS|PROFIT, limit, pnl, at, message} (chalicelib/domain/day_limits.py).
    daily_loss_limit = UnicodeAttribute(null=True)
    daily_profit_target = UnicodeAttribute(null=True)
    day_limit = JSONAttribute(null=True)
    version = VersionAttribute()

    @staticmethod
    def key(uid: str, account_id: str) -> tuple[str, str]:
        return user_pk(uid), f"ACCOUNT#{account_id}"

    @staticmethod
    def all_accounts_key(uid: str, account_id: str) -> tuple[str, str]:
        """GSI1: every account of every user, for the daily readiness job (a family's handful)."""
        return "ACCOUNTS", f"{uid}#{account_id}"


class SessionItem(BaseItem, discriminator="SESSION"):
    """A broker session: the access token sealed like the API secret, and its broker expiry."""

    uid = UnicodeAttribute()
    account_id = UnicodeAttribute()
    broker = UnicodeAttribute()
    sealed = JSONAttribute()
    expires_at = UnicodeAttribute()  # ISO-8601 with offset

    @staticmethod
    def key(uid: str, account_id: str) -> tuple[str, str]:
        return user_pk(uid), f"SESSION#{account_id}"


class OAuthStateItem(BaseItem, discriminator="OAUTH_STATE"):
    """A pending broker login: the unguessable state sent to the broker, single use, expiring."""

    uid = UnicodeAttribute()
    account_id = UnicodeAttribute()
    broker = UnicodeAttribute()
    expires_at = UnicodeAttribute()

    @staticmethod
    def key(state: str) -> tuple[str, str]:
        return f"OAUTH#{state}", "STATE"


class BasketItem(BaseItem, discriminator="BASKET"):
    uid = UnicodeAttribute()
    basket_id = UnicodeAttribute()
    name = UnicodeAttribute()
    enabled = NumberAttribute(default=1)
    version = VersionAttribute()

    @staticmethod
    def key(uid: str, basket_id: str) -> tuple[str, str]:
        return user_pk(uid), f"BASKET#{basket_id}"


class StrategyItem(BaseItem, discriminator="STRATEGY"):
    uid = UnicodeAttribute()
    strategy_id = UnicodeAttribute()
    basket_id = UnicodeAttribute()
    status = UnicodeAttribute(default="ACTIVE")  # ACTIVE | PAUSED
    spec = JSONAttribute()  # the validated strategy document, decimals as strings
    version = VersionAttribute()

    @staticmethod
    def key(uid: str, strategy_id: str) -> tuple[str, str]:
        return user_pk(uid), f"STRATEGY#{strategy_id}"

    @staticmethod
    def basket_index_key(uid: str, basket_id: str, strategy_id: str = "") -> tuple[str, str]:
        return f"BASKET#{uid}#{basket_id}", f"STRATEGY#{strategy_id}"


class ScheduleItem(BaseItem, discriminator="SCHEDULE"):
    """What one strategy does at one weekday and time; carries every account's legs for the planner."""

    uid = UnicodeAttribute()
    strategy_id = UnicodeAttribute()
    account_id = UnicodeAttribute(null=True)  # set when an item serves one account only
    phase = UnicodeAttribute()  # ENTRY | EXIT
    fire_time = UnicodeAttribute()  # HH:MM:SS IST
    payload = JSONAttribute()
    strategy_version = NumberAttribute()

    @staticmethod
    def key(uid: str, strategy_id: str, phase: str, weekday: str) -> tuple[str, str]:
        return user_pk(uid), f"SCHED#{strategy_id}#{phase}#{weekday}"

    @staticmethod
    def slot_key(weekday: str, hhmm: str, shard: int) -> str:
        return f"SLOT#{weekday}#{hhmm}#{shard}"


class ExecutionItem(BaseItem, discriminator="EXECUTION"):
    """The exactly-once gate of one (strategy, trading date, ENTRY|EXIT): created with
    attribute_not_exists, so a duplicate trigger, a retry or a second clock cannot send twice."""

    uid = UnicodeAttribute()
    strategy_id = UnicodeAttribute()
    phase = UnicodeAttribute()
    trade_date = UnicodeAttribute()
    slot = UnicodeAttribute()  # scheduled_at of every order, ISO with offset
    status = UnicodeAttribute()  # PLANNED | SENT | COMPLETE | PARTIAL | FAILED | UNWOUND | SKIPPED
    owner = UnicodeAttribute()  # the clock / Lambda that took the gate
    #: The attempt that took the gate: a retried write that finds its own token continues.
    gate_token = UnicodeAttribute(null=True)
    #: Set once, conditionally, by the one settler that unwinds a failed entry.
    unwind_token = UnicodeAttribute(null=True)
    summary = JSONAttribute(null=True)
    events = JSONAttribute(null=True)  # decisions and risk events, in order

    @staticmethod
    def key(uid: str, trade_date: str, strategy_id: str, phase: str) -> tuple[str, str]:
        return user_pk(uid), f"EXEC#{trade_date}#{strategy_id}#{phase}"


class OrderItem(BaseItem, discriminator="ORDER"):
    """One child order (one slice of one leg on one account) with its timings and history."""

    uid = UnicodeAttribute()
    order_id = UnicodeAttribute()
    execution = UnicodeAttribute()  # the ExecutionItem SK
    strategy_id = UnicodeAttribute()
    phase = UnicodeAttribute()
    account_id = UnicodeAttribute()
    broker = UnicodeAttribute()
    tag = UnicodeAttribute()
    request = JSONAttribute()
    status = UnicodeAttribute()  # a state of domain/order_lifecycle.py (docs/order-lifecycle.md)
    broker_order_id = UnicodeAttribute(null=True)
    filled_quantity = NumberAttribute(default=0)
    average_price = UnicodeAttribute(null=True)
    scheduled_at = UnicodeAttribute()
    sent_at = UnicodeAttribute(null=True)
    acked_at = UnicodeAttribute(null=True)
    error = JSONAttribute(null=True)
    history = JSONAttribute(null=True)
    #: 1 when every filled unit is in the position (``applied_quantity == filled_quantity``).
    applied = NumberAttribute(default=0)
    #: The broker's cumulative filled quantity already in the position, and its value: each
    #: fill (id ``<broker order id>:<cumulative quantity>``) moves them once, in one transaction
    #: with the position (``ExecutionRepository.apply_fill``).
    applied_quantity = NumberAttribute(null=True)
    applied_value = UnicodeAttribute(null=True)
    fills = JSONAttribute(null=True)  # [{id, quantity, value, at}] of the fills applied
    #: The firer's claim (one token per fire() call): a retried claim that finds it continues.
    claim_token = UnicodeAttribute(null=True)
    claimed_at = UnicodeAttribute(null=True)
    #: Closing orders only: the tag of the first request, which never reached the broker; the
    #: order was reopened once under a new tag (``ExecutionRepository.reopen_to_resend``).
    resent_from = UnicodeAttribute(null=True)
    #: Entries only: not sent after scheduled_at + this many seconds -> MISSED (never sent late).
    max_delay_seconds = NumberAttribute(null=True)

    @staticmethod
    def key(uid: str, trade_date: str, order_id: str) -> tuple[str, str]:
        return user_pk(uid), f"ORDER#{trade_date}#{order_id}"

    @staticmethod
    def execution_index_key(uid: str, execution_sk: str, order_id: str = "") -> tuple[str, str]:
        return f"{uid}#{execution_sk}", f"ORDER#{order_id}"


class PositionItem(BaseItem, discriminator="POSITION"):
    """What a strategy holds on one account in one contract, from its fills."""

    uid = UnicodeAttribute()
    strategy_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    symbol = UnicodeAttribute()
    contract = JSONAttribute()  # underlying, expiry, strike, option_type, exchange, lot, tick
    net_quantity = NumberAttribute(default=0)
    buy_quantity = NumberAttribute(default=0)
    sell_quantity = NumberAttribute(default=0)
    buy_value = UnicodeAttribute(default="0")
    sell_value = UnicodeAttribute(default="0")
    version = VersionAttribute()

    @staticmethod
    def key(uid: str, strategy_id: str, account_id: str, symbol: str) -> tuple[str, str]:
        return user_pk(uid), f"POS#{strategy_id}#{account_id}#{symbol}"


ENTITY_MODELS: tuple[type[BaseItem], ...] = (
    ProfileItem,
    AccountItem,
    SessionItem,
    OAuthStateItem,
    BasketItem,
    StrategyItem,
    ScheduleItem,
    ExecutionItem,
    OrderItem,
    PositionItem,
)


_transactions: dict[str, Connection] = {}


def transaction_connection() -> Connection:
    """One connection for TransactWrites, reused: a client per transaction escapes counting."""
    if "current" not in _transactions:
        meta: Any = BaseItem.Meta
        _transactions["current"] = Connection(
            region=meta.region,
            host=meta.host,
            connect_timeout_seconds=meta.connect_timeout_seconds,
            read_timeout_seconds=meta.read_timeout_seconds,
            max_retry_attempts=meta.max_retry_attempts,
        )
    return with_client(_transactions["current"])


def all_models() -> list[type[BaseItem]]:
    """BaseItem and every entity subclass defined anywhere (PynamoDB keeps a client per class)."""
    found: list[type[BaseItem]] = [BaseItem]
    for model in found:
        found.extend(m for m in model.__subclasses__() if m not in found)
    return found


def bind_table(
    table_name: str,
    region: str,
    host: str | None,
    *,
    connect_timeout: float = 1.0,
    read_timeout: float = 1.5,
    max_attempts: int = 2,
) -> None:
    """Point every model at the deployed table; called by each container. Binding again to what
    is already bound keeps the connections (and their clients): a container built per request or
    per test would otherwise open a new connection per model class each time.

    PynamoDB's defaults (15 s connect, 30 s read, 4 attempts) let a stalled table hang an API
    call for minutes; the container passes Settings' short timeouts instead.

    Process-wide, not per container (issue #14, item 5): as of PynamoDB 6.1 a model reads its
    table, host and timeouts from its class ``Meta`` and query results are built from one
    discriminator registry, so a binding per container needs the whole family of item classes
    built per binding and every store taking its classes from it (docs/architecture.md). One
    process serves one table, as Lambda and the clock process do; tests restore the binding
    after each test (``tests/conftest.py``).
    """
    meta: Any = BaseItem.Meta
    binding = {
        "table_name": table_name, "region": region, "host": host,
        "connect_timeout_seconds": connect_timeout, "read_timeout_seconds": read_timeout,
        "max_retry_attempts": max(0, max_attempts - 1),
    }  # fmt: skip
    if all(getattr(meta, name, None) == value for name, value in binding.items()):
        return
    for name, value in binding.items():
        setattr(meta, name, value)
    _transactions.clear()
    # PynamoDB caches a connection per class; drop it so the new binding takes effect.
    for model in all_models():
        model._connection = None
    for index in (BaseItem.gsi1, BaseItem.gsi2):
        index.Meta.model = BaseItem


def declared_schema() -> dict[str, Any]:
    """The key schema and indexes the models declare, in DescribeTable's shape, for schema checks."""
    indexes: dict[str, Any] = {}
    for index in (BaseItem.gsi1, BaseItem.gsi2):
        schema = index._get_schema()
        keys = [
            {"AttributeName": key["AttributeName"], "KeyType": key["KeyType"]}
            for key in schema["key_schema"]
        ]
        projection = dict(schema["projection"])
        if "NonKeyAttributes" in projection:
            projection["NonKeyAttributes"] = sorted(projection["NonKeyAttributes"])
        indexes[schema["index_name"]] = {"KeySchema": keys, "Projection": projection}
    return {
        "KeySchema": [
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": indexes,
        "TimeToLiveAttribute": BaseItem.ttl.attr_name,
    }
