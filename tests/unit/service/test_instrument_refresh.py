"""The instrument refresh without HTTP: downloads are a function, the cache a temp directory."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta

import pytest

from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import Broker
from chalicelib.services.instrument_refresh import InstrumentRefresh
from tests.unit.domain.test_masters import EXPECTED, NIFTY_CE, read

FILES = {
    "angelone": "angel_scrip_master.json",
    "upstox": "upstox_complete.json",
    "dhan": "dhan_scrip_master.csv",
    "shoonya": "noren_symbols.txt",
}
HOSTS = {b: {"master": f"http://127.0.0.1:9/{b}"} for b in FILES}
MORNING = datetime(2026, 11, 25, 8, 45, tzinfo=IST)


class Files:
    """Serves each broker's fixture; a test swaps in garbage or a failure per broker."""

    def __init__(self) -> None:
        self.override: dict[str, bytes | Exception] = {}
        self.calls: list[str] = []

    def __call__(self, broker: str) -> bytes:
        self.calls.append(broker)
        found = self.override.get(broker)
        if isinstance(found, Exception):
            raise found
        return found if found is not None else read(FILES[broker], "rb")


class Moment:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def files():
    return Files()


def refresher(tmp_path, files, clock, **kwargs):
    return InstrumentRefresh(
        brokers=tuple(FILES),
        hosts=HOSTS,
        clock=clock,
        cache_dir=tmp_path,
        download=files,
        **kwargs,
    )


def tokens(refresh):
    market = refresh.market
    return {b: market.broker_ref(b, NIFTY_CE).token for b in (Broker.ANGEL, Broker.DHAN)}


def test_the_morning_refresh_merges_every_source_into_the_shared_model(tmp_path, files):
    refresh = refresher(tmp_path, files, Moment(MORNING))
    model = refresh.market
    summary = refresh.refresh()
    assert summary["failed"] == [] and summary["contracts"] == len(EXPECTED)
    assert {s["origin"] for s in summary["sources"]} == {"download"}
    assert refresh.market is model  # swapped inside, never replaced
    assert model.broker_ref(Broker.ANGEL, NIFTY_CE).token == "48201"
    assert model.broker_ref(Broker.UPSTOX, NIFTY_CE).token == "NSE_FO|48201"
    assert model.broker_ref(Broker.NOREN, NIFTY_CE).symbol == "NIFTY01DEC26C23950"
    cached = sorted(p.name.split("-")[0] for p in (tmp_path / "2026-11-25").iterdir())
    assert cached == sorted(FILES)
    angel = next((tmp_path / "2026-11-25").glob("angelone-*.gz"))
    assert gzip.decompress(angel.read_bytes()) == read(FILES["angelone"], "rb")


@pytest.mark.parametrize(
    "bad",
    [
        b'[{"token": "48201", "symbol": "NIFTY01DEC2623950CE", "na',  # cut mid-row
        b"\x00\x01\x02 not a master at all",
        b"[]",  # parses, lists nothing
        ConnectionError("connection reset"),
    ],
)
def test_a_failed_or_garbled_download_keeps_the_previous_master(tmp_path, files, bad):
    clock = Moment(MORNING)
    refresh = refresher(tmp_path, files, clock)
    refresh.refresh()
    before = refresh.market.master
    files.override["angelone"] = bad
    clock.at += timedelta(days=1)
    summary = refresh.refresh()
    assert summary["failed"] == ["angelone"]
    [angel] = [s for s in summary["sources"] if s["broker"] == "angelone"]
    assert angel["accepted"] is False and angel["origin"] == "kept"
    assert angel["as_of"] == "2026-11-25" and angel["contracts"] == len(EXPECTED)
    assert angel["error"]
    assert tokens(refresh) == {Broker.ANGEL: "48201", Broker.DHAN: "48201"}
    assert len(refresh.market.master) == len(before)
    assert not list((tmp_path / "2026-11-26").glob("angelone-*"))  # garbage is never cached


def test_a_master_missing_a_whole_exchange_is_rejected(tmp_path, files):
    refresh = refresher(tmp_path, files, Moment(MORNING))
    refresh.refresh()
    text = read(FILES["dhan"])
    files.override["dhan"] = "\n".join(
        line for line in text.splitlines() if "SENSEX" not in line
    ).encode()
    [dhan] = [s for s in refresh.refresh(["dhan"])["sources"]]
    assert dhan["accepted"] is False and dhan["code"] == "master_rejected"
    assert refresh.market.broker_ref(Broker.DHAN, NIFTY_CE).token == "48201"


def test_a_cold_process_reads_todays_cache_without_downloading(tmp_path, files):
    refresher(tmp_path, files, Moment(MORNING)).refresh()
    files.calls.clear()
    cold = refresher(tmp_path, files, Moment(MORNING + timedelta(hours=1)))
    cold.warm()
    assert files.calls == []
    assert tokens(cold) == {Broker.ANGEL: "48201", Broker.DHAN: "48201"}
    assert cold.ensure("angelone") is None and files.calls == []


def test_the_lazy_load_downloads_once_and_backs_off_after_a_failure(tmp_path, files):
    clock = Moment(MORNING)
    refresh = refresher(tmp_path, files, clock)
    assert refresh.ensure("zerodha") is None and refresh.ensure("shoonya") is None  # no token
    report = refresh.ensure("angelone")
    assert report.accepted and report.origin == "download" and files.calls == ["angelone"]
    assert refresh.ensure("angelone") is None and files.calls == ["angelone"]
    assert refresh.market.broker_ref(Broker.ANGEL, NIFTY_CE).token == "48201"

    files.override["dhan"] = TimeoutError("read timed out")
    assert refresh.ensure("dhan").origin == "none"
    assert refresh.ensure("dhan") is None  # within the back-off: no second download
    clock.at += timedelta(minutes=6)
    files.override.pop("dhan")
    assert refresh.ensure("dhan").accepted
    assert files.calls == ["angelone", "dhan", "dhan"]


def test_a_fresh_process_falls_back_to_the_newest_older_cached_file(tmp_path, files):
    refresher(tmp_path, files, Moment(MORNING - timedelta(days=1))).refresh()
    files.override["angelone"] = b"<html>502 Bad Gateway</html>"
    cold = refresher(tmp_path, files, Moment(MORNING))
    report = cold.ensure("angelone")
    assert report.accepted is False and report.origin == "stale_cache"
    assert report.as_of == "2026-11-24" and report.error
    assert cold.market.broker_ref(Broker.ANGEL, NIFTY_CE).token == "48201"


def test_a_corrupt_cache_file_is_dropped_and_downloaded_again(tmp_path, files):
    refresher(tmp_path, files, Moment(MORNING)).refresh()
    angel = next((tmp_path / "2026-11-25").glob("angelone-*.gz"))
    angel.write_bytes(b"\x1f\x8b truncated")
    files.calls.clear()
    cold = refresher(tmp_path, files, Moment(MORNING))
    assert cold.ensure("angelone").origin == "download" and files.calls == ["angelone"]


def test_locally_only_configured_hosts_are_used(tmp_path, files):
    refresh = InstrumentRefresh(
        brokers=("angelone",), hosts={}, clock=Moment(MORNING), cache_dir=tmp_path, download=files
    )
    [angel] = refresh.refresh()["sources"]
    assert angel["code"] == "no_host" and files.calls == []
    assert refresh.market.master is None


def test_old_cache_days_are_pruned(tmp_path, files):
    (tmp_path / "2026-11-01").mkdir()
    (tmp_path / "2026-11-20").mkdir()
    refresher(tmp_path, files, Moment(MORNING)).refresh()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-11-20", "2026-11-25"]
