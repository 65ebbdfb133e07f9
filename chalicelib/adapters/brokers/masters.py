"""``MasterSources`` (``ports/masters.py``) over the broker catalogue's adapters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.adapters.brokers.http_client import make_client
from chalicelib.adapters.brokers.registry import build_broker, default_hosts
from chalicelib.ports.broker import Credentials


class AdapterMasters:
    def download(self, broker: str, hosts: Mapping[str, str] | None) -> bytes:
        with make_client() as client:
            adapter = build_broker(
                broker,
                Credentials(api_key=""),
                account=f"{broker}-master",
                hosts=hosts,
                client=client,
            )
            return adapter.instruments()

    def default_host(self, broker: str) -> str | None:
        return default_hosts(broker).get("master")

    def build(self, broker: str, *args: Any, **kwargs: Any) -> Any:
        return build_broker(broker, *args, **kwargs)
