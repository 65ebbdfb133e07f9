"""The instrument masters' file cache: accepted raw files, gzipped, by trading date and source.

Layout: ``<directory>/<date>/<broker>-<hash of the master URL>.gz`` (the URL in the name keeps a
fake broker's file apart from the real one's). Files older than ``keep_days`` are removed when a
new one is written. Every failure here is only a warning: the cache saves downloads, it never
decides whether a master is good (``InstrumentRefresh`` and ``MasterHolder`` do).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import zlib
from datetime import date, timedelta
from pathlib import Path

log = logging.getLogger(__name__)


class MasterCache:
    """Reads and writes one process's cached master files (``instrument_refresh.py``)."""

    def __init__(self, directory: Path | None, keep_days: int) -> None:
        self._directory = directory
        self._keep_days = keep_days

    @property
    def directory(self) -> Path:
        if self._directory is None:  # resolved on first use: gettempdir() probes the disk
            self._directory = Path(tempfile.gettempdir()) / "optexec-instruments"
        return self._directory

    def path(self, broker: str, source: str | None, day: date) -> Path | None:
        """The file of ``broker``'s master from ``source`` (its base URL) on ``day``."""
        if source is None:
            return None
        digest = hashlib.sha256(source.encode()).hexdigest()[:12]
        return self.directory / day.isoformat() / f"{broker}-{digest}.gz"

    def older(self, path: Path | None, today: date) -> list[tuple[date, Path]]:
        """Files of the same source as today's ``path`` from the last ``keep_days`` before
        today, newest first."""
        if path is None or not self.directory.is_dir():
            return []
        found = []
        for candidate in self.directory.glob(f"*/{path.name}"):
            day = _day(candidate.parent.name)
            if day is not None and today - timedelta(days=self._keep_days) <= day < today:
                found.append((day, candidate))
        return sorted(found, reverse=True)

    def read(self, path: Path | None) -> bytes | None:
        """The file's bytes; an unreadable file is removed (and None returned)."""
        if path is None or not path.is_file():
            return None
        try:
            return gzip.decompress(path.read_bytes())
        except (OSError, EOFError, zlib.error) as error:
            log.warning("unreadable master cache file", extra={"path": str(path), "error": error})
            with contextlib.suppress(OSError):
                path.unlink()
            return None

    def write(self, path: Path | None, data: bytes, today: date) -> None:
        """Atomically (write then rename); a cache that cannot be written is only a warning."""
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
            partial.write_bytes(gzip.compress(data, compresslevel=6))
            os.replace(partial, path)
            for old in self.directory.iterdir():
                day = _day(old.name)
                if day is not None and day < today - timedelta(days=self._keep_days):
                    shutil.rmtree(old, ignore_errors=True)
        except OSError as error:
            log.warning("master cache not written", extra={"path": str(path), "error": error})


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None
