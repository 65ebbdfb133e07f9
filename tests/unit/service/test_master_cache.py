"""The masters' file cache on its own: names by source, the keep window, corrupt files, pruning."""

from __future__ import annotations

from datetime import date

from chalicelib.services.master_cache import MasterCache

TODAY = date(2026, 11, 25)


def test_files_are_named_by_date_broker_and_source_and_none_without_a_source(tmp_path):
    cache = MasterCache(tmp_path, keep_days=7)
    real = cache.path("angelone", "https://margincalculator.angelbroking.com", TODAY)
    fake = cache.path("angelone", "http://127.0.0.1:9001", TODAY)
    assert real.parent == tmp_path / "2026-11-25" and real.name.startswith("angelone-")
    assert real != fake and real.suffix == ".gz"
    assert cache.path("angelone", None, TODAY) is None


def test_written_bytes_read_back_and_older_files_come_newest_first_within_the_window(tmp_path):
    cache = MasterCache(tmp_path, keep_days=7)
    source = "http://127.0.0.1:9001"
    for day, data in ((date(2026, 11, 17), b"too old"), (date(2026, 11, 20), b"a"),
                      (date(2026, 11, 24), b"b")):  # fmt: skip
        cache.write(cache.path("angelone", source, day), data, day)
    today = cache.path("angelone", source, TODAY)
    assert [(d, cache.read(p)) for d, p in cache.older(today, TODAY)] == [
        (date(2026, 11, 24), b"b"),
        (date(2026, 11, 20), b"a"),
    ]
    cache.write(today, b"c", TODAY)
    assert cache.read(today) == b"c"
    assert not (tmp_path / "2026-11-17").exists()  # pruned when today's file was written


def test_a_corrupt_file_reads_as_none_and_is_removed(tmp_path):
    cache = MasterCache(tmp_path, keep_days=7)
    path = cache.path("dhan", "http://127.0.0.1:9002", TODAY)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not gzip")
    assert cache.read(path) is None and not path.exists()
    assert cache.read(None) is None and cache.older(None, TODAY) == []
