"""The stored records as the engine reads them: what a service may rely on, whatever holds them.

Services and ports speak of these protocols, never of the PynamoDB items behind them: the DynamoDB
items in ``adapters/dynamo/`` satisfy them structurally, and the in-memory fakes of the stores
(``tests/fakes/``) hold plain dataclasses with the same attributes. A record is read-only to a
service: every change goes through a store method, which owns the conditional write that makes it
safe (the version, the claim token, the status a transition starts from).

``sk`` is the record's key among its user's records. Services use it as an identity (an order names
its execution by it; recovery and settlement pass it back to the store); they never parse it.
Quantities are whole numbers; rupee amounts are Decimal text (``"123.45"``); instants are ISO 8601
with the IST offset; JSON documents are plain dicts and lists.
"""

from __future__ import annotations

from typing import Any, Protocol


class Record(Protocol):
    """What every stored record has."""

    sk: str
    created_at: str | None
    updated_at: str | None


class ProfileRecord(Record, Protocol):
    uid: str
    email: str
    name: str
    phone: str
    state: str


class AccountRecord(Record, Protocol):
    """A broker account. ``secret_blob`` is the KMS envelope: sealed, never read by a service."""

    uid: str
    account_id: str
    broker: str
    client_id: str
    label: str
    status: str
    static_ip_note: str | None
    secret_blob: dict[str, Any] | None
    quote_account_id: str | None
    daily_loss_limit: str | None
    daily_profit_target: str | None
    day_limit: dict[str, Any] | None
    version: int | None


class SessionRecord(Record, Protocol):
    """Today's broker session of an account, sealed like the account's secrets."""

    uid: str
    account_id: str
    broker: str
    sealed: dict[str, Any]
    expires_at: str


class OAuthStateRecord(Record, Protocol):
    uid: str
    account_id: str
    broker: str
    expires_at: str


class BasketRecord(Record, Protocol):
    uid: str
    basket_id: str
    name: str
    enabled: int
    version: int | None


class StrategyRecord(Record, Protocol):
    """A strategy: ``spec`` is the validated document (decimals as strings)."""

    uid: str
    strategy_id: str
    basket_id: str
    status: str
    spec: dict[str, Any]
    version: int | None


class ScheduleRecord(Record, Protocol):
    """One phase of one strategy at one weekday and minute (the schedule index)."""

    uid: str
    strategy_id: str
    account_id: str | None
    phase: str
    fire_time: str
    payload: dict[str, Any]
    strategy_version: int


class ExecutionRecord(Record, Protocol):
    """One phase of one strategy on one trading day: the exactly-once gate and its outcome."""

    uid: str
    strategy_id: str
    phase: str
    trade_date: str
    slot: str
    status: str
    owner: str
    gate_token: str | None
    unwind_token: str | None
    summary: dict[str, Any] | None
    events: list[dict[str, Any]] | None


class OrderRecord(Record, Protocol):
    """One child order: the request as planned, its lifecycle state and the fills applied."""

    uid: str
    order_id: str
    execution: str
    strategy_id: str
    phase: str
    account_id: str
    broker: str
    tag: str
    request: dict[str, Any]
    status: str
    broker_order_id: str | None
    filled_quantity: int
    average_price: str | None
    scheduled_at: str
    sent_at: str | None
    acked_at: str | None
    error: dict[str, Any] | None
    history: list[dict[str, Any]] | None
    applied: int
    applied_quantity: int | None
    applied_value: str | None
    fills: list[dict[str, Any]] | None
    claim_token: str | None
    claimed_at: str | None
    resent_from: str | None
    max_delay_seconds: int | None


class PositionRecord(Record, Protocol):
    """One contract held by one account for one strategy: quantities and rupee values."""

    uid: str
    strategy_id: str
    account_id: str
    symbol: str
    contract: dict[str, Any]
    net_quantity: int
    buy_quantity: int
    sell_quantity: int
    buy_value: str
    sell_value: str
    version: int | None


class RiskBookRecord(Record, Protocol):
    """The risk engine's book of one entry: rules as armed, one guard per leg, the MTM state."""

    uid: str
    strategy_id: str
    trade_date: str
    execution: str
    status: str
    exit_time: str
    rules: dict[str, Any]
    guards: list[dict[str, Any]]
    mtm: dict[str, Any] | None
    version: int | None


class KillSwitchRecord(Record, Protocol):
    """An engaged kill switch and its passes until the scope is flat."""

    uid: str
    scope: str
    target: str
    reason: str
    engaged_by: str
    engaged_at: str
    operation_id: str | None
    status: str
    attempts: int
    next_attempt_at: str | None
    pass_until: int
    flat_at: str | None
    alerted: int
    summary: dict[str, Any] | None
    events: list[dict[str, Any]] | None
