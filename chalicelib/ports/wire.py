"""The firer's pre-serialised sends at T: one account's placements as bytes on an open socket.

Before T the firer asks the ``WireSender`` for a lane per account (its requests serialised by the
account's own adapter, its connection opened, its rate slots bookable from memory); at T one event
loop writes every lane (one request in flight per account); after it each lane says what became of
each request, read by the adapter exactly as its own ``place`` reads a reply. Which accounts may
take a lane is partly the firer's decision (``services/fire_wire.py``: no broken request, no
closing order under a before-send hook) and partly the adapter's (``open_lane`` answers None when
the adapter, its transport or its limiter cannot: that account takes the ordinary threaded send).

``adapters/brokers/wire_lanes.py`` implements it over ``adapters/brokers/wire.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.ports.broker import OrderAck, OrderRequest


@dataclass
class WireOutcome:
    """What became of one request of a lane (monotonic instants)."""

    ack: OrderAck | None
    error: Exception | None
    sent_mono: float | None
    acked_mono: float | None
    #: Not sent: past its staleness deadline when its turn came.
    missed: bool = False
    #: The lane did not handle it (it stopped at an ambiguous reply, or its rate slot had to come
    #: from a shared store): the caller sends it the ordinary way.
    unsent: bool = False


class WireLane(Protocol):
    """One account's requests, serialised and on an open connection, in sending order."""

    def outcomes(self, now: Callable[[], float]) -> list[WireOutcome]:
        """After ``WireSender.run``: one outcome per request, in order. An ambiguous reply is
        resolved here through the adapter (tag lookups, then at most one resend); ``now`` stamps
        when such a recovered acknowledgement came."""
        ...


class WireSender(Protocol):
    def open_lane(
        self,
        adapter: Any,
        requests: Sequence[OrderRequest],
        deadlines: Sequence[float | None],
    ) -> WireLane | None:
        """The account's lane (``deadlines``: monotonic instants after which a request is not
        sent, None for none), or None when this adapter cannot send that way."""
        ...

    def run(self, lanes: Sequence[WireLane], monotonic: Callable[[], float]) -> None:
        """Write every lane's requests now, each through its limiter's slots; returns when every
        lane is done (answered, timed out, missed or stopped)."""
        ...
