"""Plain dataclasses that satisfy the record protocols of ``chalicelib/domain/records.py``.

The in-memory fakes of the stores hold these, so the engine's unit tests run without DynamoDB.
Defaults match the PynamoDB items' defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(kw_only=True)
class Profile:
    sk: str
    uid: str
    email: str
    name: str
    phone: str
    state: str

    created_at: str | None = None
    updated_at: str | None = None


@dataclass(kw_only=True)
class Account:
    sk: str
    uid: str
    account_id: str
    broker: str
    client_id: str
    label: str
    status: str
    static_ip_note: str | None = None
    secret_blob: dict[str, Any] | None = None
    quote_account_id: str | None = None
    daily_loss_limit: str | None = None
    daily_profit_target: str | None = None
    day_limit: dict[str, Any] | None = None
    version: int | None = None
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(kw_only=True)
class Session:
    sk: str
    uid: str
    account_id: str
    broker: str
    sealed: dict[str, Any]
    expires_at: str

    created_at: str | None = None
    updated_at: str | None = None


@dataclass(kw_only=True)
class OAuthState:
    sk: str
    uid: str
    account_id: str
    broker: str
    expires_at: str

    created_at: str | None = None
    updated_at: str | None = None


@dataclass(kw_only=True)
class Basket:
    sk: str
    uid: str
    basket_id: str
    name: str
    enabled: int = 1
    version: int | None = None
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(kw_only=True)
class Strategy:
    sk: str
    uid: str
    strategy_id: str
    basket_id: str
    status: str
    spec: dict[str, Any]
    version: int | None = None
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(kw_only=True)
class Schedule:
    sk: str
    uid: str
    strategy_id: str
    phase: str
    fire_time: str
    payload: dict[str, Any]
    strategy_version: int
    account_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(kw_only=True)
class Execution:
    sk: str
    uid: str
    strategy_id: str
    phase: str
    trade_date: str
    slot: str
    status: str
    owner: str
    gate_token: str | None = None
    unwind_token: str | None = None
    summary: dict[str, Any] | None = None
    events: list[dict[str, Any]] | None = None
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(kw_only=True)
class Order:
    sk: str
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
    scheduled_at: str
    broker_order_id: str | None = None
    filled_quantity: int = 0
    average_price: str | None = None
    sent_at: str | None = None
    acked_at: str | None = None
    error: dict[str, Any] | None = None
    history: list[dict[str, Any]] | None = None
    applied: int = 0
    applied_quantity: int | None = None
    applied_value: str | None = None
    fills: list[dict[str, Any]] | None = None
    claim_token: str | None = None
    claimed_at: str | None = None
    resent_from: str | None = None
    max_delay_seconds: int | None = None
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(kw_only=True)
class Position:
    sk: str
    uid: str
    strategy_id: str
    account_id: str
    symbol: str
    contract: dict[str, Any]
    net_quantity: int = 0
    buy_quantity: int = 0
    sell_quantity: int = 0
    buy_value: str = "0"
    sell_value: str = "0"
    version: int | None = None
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(kw_only=True)
class RiskBook:
    sk: str
    uid: str
    strategy_id: str
    trade_date: str
    execution: str
    status: str
    exit_time: str
    rules: dict[str, Any]
    guards: list[dict[str, Any]]
    mtm: dict[str, Any] | None = None
    version: int | None = None
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(kw_only=True)
class KillSwitch:
    sk: str
    uid: str
    scope: str
    target: str
    engaged_by: str
    engaged_at: str
    status: str
    reason: str = ""
    operation_id: str | None = None
    attempts: int = 0
    next_attempt_at: str | None = None
    pass_until: int = 0
    flat_at: str | None = None
    alerted: int = 0
    summary: dict[str, Any] | None = None
    events: list[dict[str, Any]] | None = None
    created_at: str | None = None
    updated_at: str | None = None
