"""Where the instrument masters come from, and how an adapter that needs one is built.

``InstrumentRefresh`` (a service) decides when to load which master and checks what it gets; the
dialects' adapters know the URLs and the bytes. ``adapters/brokers/masters.py`` implements this.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class MasterSources(Protocol):
    def download(self, broker: str, hosts: Mapping[str, str] | None) -> bytes:
        """The broker's raw instrument master (public: no session), through its dialect."""
        ...

    def default_host(self, broker: str) -> str | None:
        """The broker's own master base URL (used on AWS stages only)."""
        ...

    def build(self, broker: str, *args: Any, **kwargs: Any) -> Any:
        """The broker port for one account (the registry's builder, arguments passed through)."""
        ...
