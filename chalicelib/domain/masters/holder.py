"""Atomic replacement of the instrument master.

A new master replaces the current one only if the whole file parsed and passed the sanity checks:
non-empty, every required underlying present, no duplicate contracts, and not drastically smaller
than the master it replaces (a download cut at a line boundary parses cleanly but lists fewer
contracts). Anything else leaves the current master in place and is reported, never raised into
the tick: stale-but-correct beats fresh-but-partial.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from chalicelib.domain.instrument import Instrument, InstrumentMaster
from chalicelib.domain.market_errors import MarketDataError
from chalicelib.domain.underlying import Underlying

log = logging.getLogger(__name__)

Parser = Callable[[str | bytes], list[Instrument]]


class MasterRejected(MarketDataError):
    """A parsed master failed a sanity check."""

    code = "master_rejected"


@dataclass(frozen=True, slots=True)
class LoadReport:
    """Outcome of one load attempt."""

    accepted: bool
    contracts: int
    error: str | None = None
    code: str | None = None


def check_master(
    master: InstrumentMaster,
    required: Iterable[Underlying],
    previous: InstrumentMaster | None = None,
    min_fraction: float = 0.5,
) -> None:
    """Raise ``MasterRejected`` unless ``master`` is safe to trade from."""
    if len(master) == 0:
        raise MasterRejected(f"{master.source}: no index options in the file", field="master")
    missing = set(required) - master.underlyings()
    if missing:
        names = ", ".join(sorted(missing))
        raise MasterRejected(f"{master.source}: no contracts for {names}", field="master")
    if previous is not None and len(master) < min_fraction * len(previous):
        raise MasterRejected(
            f"{master.source}: {len(master)} contracts vs {len(previous)} before; looks partial",
            field="master",
        )


class MasterHolder:
    """Holds the current master for one broker/exchange file and swaps it atomically."""

    def __init__(
        self,
        parser: Parser,
        *,
        required: Iterable[Underlying],
        source: str,
        min_fraction: float = 0.5,
    ) -> None:
        self._parser = parser
        self._required = frozenset(required)
        self._source = source
        self._min_fraction = min_fraction
        self._current: InstrumentMaster | None = None
        self._lock = threading.Lock()

    @property
    def current(self) -> InstrumentMaster | None:
        """The last accepted master (None until one loads)."""
        return self._current

    def load(self, data: str | bytes) -> LoadReport:
        """Parse and check ``data``; swap it in only if everything passed."""
        with self._lock:
            try:
                master = InstrumentMaster(self._parser(data), source=self._source)
                check_master(master, self._required, self._current, self._min_fraction)
            except MarketDataError as error:
                log.warning(
                    "instrument master rejected",
                    extra={"source": self._source, "code": error.code, "reason": error.message},
                )
                kept = len(self._current) if self._current is not None else 0
                return LoadReport(False, kept, error.message, error.code)
            self._current = master
            log.info(
                "instrument master loaded", extra={"source": self._source, "rows": len(master)}
            )
            return LoadReport(True, len(master))
