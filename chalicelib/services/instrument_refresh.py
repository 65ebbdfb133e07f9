"""Broker instrument masters, loaded once a day into the one ``MarketModel`` of the process.

Why: Angel One, Upstox and Dhan orders name a contract by a token that only the broker's own
master lists (Noren's symbol can be computed, but its master is the broker's spelling). Without
the master those orders fail with ``InvalidOrder`` ("no token").

Where the files come from. The Angel, Upstox, Dhan and Noren (Shoonya/Zebu) masters are public
files on each broker's ``master`` host: no login is needed. So the refresh borrows no user's
session and never looks for "some logged-in account" (a scan of every user does not scale, and a
session can expire mid-day); it builds the dialect's adapter with empty credentials and calls
``instruments()``, so hosts (``BROKER_HOSTS``), timeouts, retries and unpacking stay the adapter's.
Kite's master needs a session, and Kite and Fyers symbols are computed, so they are not needed.

When a master loads:
* the morning job (08:45 IST, after the brokers publish; ``jobs/instruments.py``) downloads every
  configured source (``INSTRUMENT_BROKERS``) and reports each one;
* lazily, the first time in a process and trading day that an adapter of a token dialect (Angel,
  Upstox, Dhan) is built (``build_broker`` wraps the registry's). The firer and the closer build
  adapters before they build requests, so the token is there when the order is. A failed lazy
  load is retried at most every ``retry_after``, never once per order;
* from today's cache files when the container first hands out the market (file reads only).

Atomic. A file replaces a dialect's master only if all of it parsed and passed ``MasterHolder``'s
checks (non-empty, key underlyings present, no duplicates, not much smaller than before). Otherwise
the previous master stays (the one in memory or, in a fresh process, the newest cached file of the
last ``keep_days``) and the failure is reported. The merged master (``masters/merge.py``) is
rebuilt from the accepted ones and swapped into the shared ``MarketModel`` in one assignment, so a
reader sees yesterday's tokens or today's, never a half-loaded file.

Cache. The accepted raw file, gzipped, under ``INSTRUMENT_CACHE_DIR/<date>/<broker>-<hash of the
master URL>.gz`` (``master_cache.py``), and the parsed master in memory, tagged with its trading
date. Honest limit: on AWS ``/tmp`` belongs to one
Lambda instance, so the file cache only saves re-downloads within that instance (and across
restarts locally, where the clock and the API process share the directory); every cold instance
downloads each token dialect it trades once per day.

Safety. In the local and test stages (``allow_default_hosts=False``) only master hosts configured
in ``BROKER_HOSTS`` are used: a missing override is reported, never a call to the real broker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import Broker
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.masters import (
    MasterHolder,
    parse_angel_master,
    parse_dhan_master,
    parse_fyers_master,
    parse_kite_master,
    parse_noren_master,
    parse_upstox_master,
)
from chalicelib.domain.masters.holder import Parser
from chalicelib.domain.masters.merge import merge_masters
from chalicelib.domain.underlying import Underlying
from chalicelib.ports.masters import MasterSources
from chalicelib.services.clock import Clock
from chalicelib.services.master_cache import MasterCache
from chalicelib.services.preview import DIALECT

log = logging.getLogger(__name__)

PARSERS: Mapping[Broker, Parser] = {
    Broker.ANGEL: parse_angel_master,
    Broker.UPSTOX: parse_upstox_master,
    Broker.DHAN: parse_dhan_master,
    Broker.NOREN: parse_noren_master,
    Broker.KITE: parse_kite_master,
    Broker.FYERS: parse_fyers_master,
}
#: Dialects whose orders cannot be sent without the master's token: loaded lazily if need be.
TOKEN_DIALECTS = frozenset({Broker.ANGEL, Broker.UPSTOX, Broker.DHAN})
#: A master without these is broken (each adapter joins an NSE and a BSE file: SENSEX checks the
#: second half arrived).
REQUIRED = (Underlying.NIFTY, Underlying.BANKNIFTY, Underlying.SENSEX)
#: Tie-break when merging masters of the same date (facts come from the first).
MERGE_ORDER = (Broker.UPSTOX, Broker.ANGEL, Broker.DHAN, Broker.NOREN, Broker.KITE, Broker.FYERS)

Download = Callable[[str], bytes]


@dataclass(frozen=True, slots=True)
class SourceReport:
    """What happened to one broker's master: ``origin`` says where the data in use came from.

    origin: ``download`` / ``cache`` (today's file), ``stale_cache`` (an older cached file, after
    a failure), ``kept`` (the previous master stays), ``none`` (nothing loaded), ``skipped``.
    """

    broker: str
    dialect: str
    accepted: bool
    contracts: int
    origin: str
    as_of: str | None = None
    error: str | None = None
    code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class InstrumentRefresh:
    """Loads, checks and merges the masters; owns the ``MarketModel`` the container shares."""

    def __init__(
        self,
        *,
        brokers: Sequence[str],
        hosts: Mapping[str, Mapping[str, str]],
        clock: Clock,
        cache_dir: str | Path = "",
        allow_default_hosts: bool = False,
        download: Download | None = None,
        sources: MasterSources | None = None,
        market: MarketModel | None = None,
        retry_after: timedelta = timedelta(minutes=5),
        keep_days: int = 7,
    ) -> None:
        self.market = market or MarketModel()
        self.brokers = tuple(b for b in brokers if DIALECT.get(b) in PARSERS)
        self._hosts = hosts
        self._clock = clock
        self._cache = MasterCache(Path(cache_dir) if cache_dir else None, keep_days)
        self._allow_default_hosts = allow_default_hosts
        self._sources = sources
        self._download = download or self._adapter_download
        self._retry_after = retry_after
        self._holders = {
            d: MasterHolder(p, required=REQUIRED, source=d.value) for d, p in PARSERS.items()
        }
        self._as_of: dict[Broker, date] = {}
        self._failed_at: dict[Broker, datetime] = {}
        self._locks = {d: threading.Lock() for d in PARSERS}
        self._publish_lock = threading.Lock()
        self.conflicts: tuple[str, ...] = ()

    # ------------------------------------------------------------------ entry points
    def refresh(self, brokers: Iterable[str] | None = None) -> dict[str, Any]:
        """Download every configured source now (the morning job); one report per dialect."""
        today = self._today()
        reports = []
        seen: set[Broker] = set()
        for broker in self.brokers if brokers is None else brokers:
            dialect = DIALECT.get(broker)
            if dialect not in PARSERS or dialect in seen:
                continue
            seen.add(dialect)
            with self._locks[dialect]:
                report = self._guarded(broker, dialect, today, download=True, use_cache=False)
                self._note(dialect, today, report)
            reports.append(report)
        return {
            "date": today.isoformat(),
            "sources": [r.to_dict() for r in reports],
            "failed": [r.broker for r in reports if not r.accepted],
            "contracts": len(self.market.master) if self.market.master is not None else 0,
            "conflicts": len(self.conflicts),
        }

    def ensure(self, broker: str) -> SourceReport | None:
        """Make sure a token dialect's master of today is loaded (lazy path; never raises).

        Returns None when nothing had to be done (not a token dialect, already loaded today, or
        a recent failure still in its back-off).
        """
        dialect = DIALECT.get(broker)
        if dialect not in TOKEN_DIALECTS:
            return None
        today = self._today()
        if self._as_of.get(dialect) == today:
            return None
        with self._locks[dialect]:
            if self._as_of.get(dialect) == today:
                return None
            failed = self._failed_at.get(dialect)
            if failed is not None and self._clock() - failed < self._retry_after:
                return None
            report = self._guarded(broker, dialect, today, download=True, use_cache=True)
            self._note(dialect, today, report)
            return report

    def warm(self) -> MarketModel:
        """The shared market model, with whatever today's cache files hold (no network)."""
        today = self._today()
        for broker in self._known_brokers():
            dialect = DIALECT[broker]
            if self._as_of.get(dialect) == today:
                continue
            with self._locks[dialect]:
                self._guarded(broker, dialect, today, download=False, use_cache=True)
        return self.market

    def build_broker(self, broker: str, *args: Any, **kwargs: Any) -> Any:
        """``registry.build_broker``, loading the broker's master first if orders need it.

        Given to ``BrokerAccess`` as its factory: every adapter that will send orders is built
        through here, before any request is built from the market model.
        """
        if self._sources is None:
            raise RuntimeError("InstrumentRefresh was built without master sources")
        self.ensure(broker)
        return self._sources.build(broker, *args, **kwargs)

    # ------------------------------------------------------------------ loading
    def _guarded(
        self, broker: str, dialect: Broker, today: date, *, download: bool, use_cache: bool
    ) -> SourceReport:
        try:
            return self._load(broker, dialect, today, download=download, use_cache=use_cache)
        except Exception as error:  # a refresh must never take an order path down with it
            log.exception("instrument master load failed", extra={"broker": broker})
            return self._report(broker, dialect, False, "kept", error=repr(error))

    def _load(
        self, broker: str, dialect: Broker, today: date, *, download: bool, use_cache: bool
    ) -> SourceReport:
        if use_cache:
            cached = self._cache.read(self._path(broker, today))
            if cached is not None:
                accepted, _, _ = self._offer(dialect, cached)
                if accepted:
                    self._as_of[dialect] = today
                    self._publish()
                    return self._report(broker, dialect, True, "cache", today)
        if not download:
            return self._report(broker, dialect, False, "none")
        if self._source(broker) is None:
            return self._fallback(
                broker, dialect, today, f"no master host configured for {broker}", "no_host"
            )
        try:
            data = self._download(broker)
        except Exception as error:
            log.warning(
                "instrument master download failed", extra={"broker": broker, "error": repr(error)}
            )
            return self._fallback(
                broker, dialect, today, str(error), getattr(error, "code", None) or "download"
            )
        accepted, error_text, code = self._offer(dialect, data)
        if not accepted:
            return self._fallback(broker, dialect, today, error_text, code)
        self._as_of[dialect] = today
        self._cache.write(self._path(broker, today), data, today)
        self._publish()
        return self._report(broker, dialect, True, "download", today)

    def _offer(self, dialect: Broker, data: bytes) -> tuple[bool, str | None, str | None]:
        """Let the holder judge ``data``; it swaps only on success (any exception: rejected)."""
        try:
            outcome = self._holders[dialect].load(data)
        except Exception as error:  # e.g. csv.Error on binary junk: the holder did not swap
            return False, f"{type(error).__name__}: {error}", "master_unparseable"
        return outcome.accepted, outcome.error, outcome.code

    def _fallback(
        self, broker: str, dialect: Broker, today: date, error: str | None, code: str | None
    ) -> SourceReport:
        """After a failure: keep what is loaded, else the newest older cached file."""
        if self._holders[dialect].current is None:
            for day, path in self._cache.older(self._path(broker, today), today):
                data = self._cache.read(path)
                if data is not None and self._offer(dialect, data)[0]:
                    self._as_of[dialect] = day
                    self._publish()
                    return self._report(broker, dialect, False, "stale_cache", day, error, code)
        origin = "kept" if self._holders[dialect].current is not None else "none"
        as_of = self._as_of.get(dialect)
        return self._report(broker, dialect, False, origin, as_of, error, code)

    def _note(self, dialect: Broker, today: date, report: SourceReport) -> None:
        """Remember a failed attempt for today so the lazy path backs off."""
        if self._as_of.get(dialect) == today:
            self._failed_at.pop(dialect, None)
        else:
            self._failed_at[dialect] = self._clock()
            log.warning("instrument master not refreshed", extra=report.to_dict())

    def _publish(self) -> None:
        """Merge the accepted masters (freshest first) and swap them into the market model."""
        with self._publish_lock:
            loaded = [
                (self._as_of.get(d, date.min), d, h.current)
                for d, h in self._holders.items()
                if h.current is not None
            ]
            loaded.sort(key=lambda item: (-item[0].toordinal(), MERGE_ORDER.index(item[1])))
            merged = merge_masters([master for _, _, master in loaded])
            if merged.conflicts:
                log.warning(
                    "instrument masters disagree",
                    extra={"count": len(merged.conflicts), "first": merged.conflicts[:5]},
                )
            self.conflicts = merged.conflicts
            self.market.master = merged.master if len(merged.master) else None

    def _report(
        self,
        broker: str,
        dialect: Broker,
        accepted: bool,
        origin: str,
        as_of: date | None = None,
        error: str | None = None,
        code: str | None = None,
    ) -> SourceReport:
        current = self._holders[dialect].current
        return SourceReport(
            broker=broker,
            dialect=dialect.value,
            accepted=accepted,
            contracts=len(current) if current is not None else 0,
            origin=origin,
            as_of=as_of.isoformat() if as_of else None,
            error=error,
            code=code,
        )

    # ------------------------------------------------------------------ sources
    def _known_brokers(self) -> list[str]:
        """Configured sources, plus the token dialects' brokers (their lazy loads cache too)."""
        names = list(self.brokers)
        names += [b for b, d in DIALECT.items() if d in TOKEN_DIALECTS and b not in names]
        return names

    def _source(self, broker: str) -> str | None:
        """The master base URL: the configured override, or (on AWS) the broker's own."""
        configured = self._hosts.get(broker, {}).get("master")
        if configured:
            return configured
        if not self._allow_default_hosts or self._sources is None:
            return None
        return self._sources.default_host(broker)

    def _path(self, broker: str, day: date) -> Path | None:
        """This source's cache file of ``day`` (None without a master host)."""
        return self._cache.path(broker, self._source(broker), day)

    def _adapter_download(self, broker: str) -> bytes:
        """The raw master through the dialect's adapter (no session: the files are public)."""
        if self._sources is None:
            raise RuntimeError("InstrumentRefresh was built without master sources")
        return self._sources.download(broker, self._hosts.get(broker))

    def _today(self) -> date:
        return self._clock().astimezone(IST).date()
