"""Broker names -> adapter classes and their default hosts; the one place that wires an adapter.

The container calls ``build_broker`` once per account and session; tests and ``make run`` pass
``hosts`` to point a dialect at its fake on loopback (every host key of the dialect can be
overridden: Kite ``api``/``login``, Upstox ``api``/``hft``/``master``, ...).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from datetime import datetime

import httpx
from tenacity import Retrying

from chalicelib.adapters.brokers.base import HttpBroker
from chalicelib.adapters.brokers.config import AdapterConfig, ist_now
from chalicelib.adapters.brokers.http_client import make_client
from chalicelib.adapters.brokers.rate_limit import OrderRateLimiter
from chalicelib.adapters.brokers.retry import make_retrying as default_retrying
from chalicelib.domain.brokers import CATALOGUE, PAPER, UnknownBroker, broker_entry
from chalicelib.ports.broker import Credentials, Session

__all__ = ["ADAPTERS", "UnknownBroker", "adapter_class", "build_broker", "default_hosts"]


def _load(path: str) -> type[HttpBroker]:
    """``"kite:KiteBroker"`` -> the class, from the catalogue's entry (one place names them)."""
    module, _, name = path.partition(":")
    cls = getattr(importlib.import_module(f"chalicelib.adapters.brokers.{module}"), name)
    if not (isinstance(cls, type) and issubclass(cls, HttpBroker)):
        raise TypeError(f"{path} is not a broker adapter")
    return cls


ADAPTERS: Mapping[str, type[HttpBroker]] = {e.name: _load(e.adapter) for e in CATALOGUE}
#: Host keys each adapter needs: a missing override for a dialect without defaults (paper) fails
#: at build time, not at the first order.
REQUIRED_HOSTS: Mapping[str, tuple[str, ...]] = {PAPER.name: ("api", "login")}


def adapter_class(broker: str) -> type[HttpBroker]:
    return ADAPTERS[broker_entry(broker).name]


def default_hosts(broker: str) -> Mapping[str, str]:
    """The broker's production base URLs by host key."""
    return dict(adapter_class(broker).default_hosts)


def build_broker(
    broker: str,
    credentials: Credentials,
    *,
    account: str,
    session: Session | None = None,
    hosts: Mapping[str, str] | None = None,
    client: httpx.Client | None = None,
    retrying: Retrying | None = None,
    limiter: OrderRateLimiter | None = None,
    now: Callable[[], datetime] = ist_now,
    sleep: Callable[[float], None] = time.sleep,
) -> HttpBroker:
    """One adapter for one broker account. Clients and limiters may be shared between calls."""
    cls = adapter_class(broker)
    merged = {**cls.default_hosts, **(hosts or {})}
    missing = [key for key in REQUIRED_HOSTS.get(broker, ()) if key not in merged]
    if missing:
        raise ValueError(f"{broker} needs hosts {missing} (the paper server's URL)")
    return cls(
        AdapterConfig(
            credentials=credentials,
            client=client or make_client(),
            retrying=retrying or default_retrying(sleep=sleep),
            account=account,
            session=session,
            hosts=dict(hosts or {}),
            limiter=limiter,
            now=now,
            sleep=sleep,
        )
    )
