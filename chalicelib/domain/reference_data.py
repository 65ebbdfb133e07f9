"""Loading and validating the dated market reference data in ``chalicelib/data/``.

Market facts change several times a year, so they are data files with a ``source`` note and
``effective_from`` dates rather than constants in code. Files are read lazily (first use, never at
import time) and validated; a malformed file raises ``ReferenceDataError`` naming the file and the
offending entry instead of producing a wrong order later.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from datetime import date, time
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

from chalicelib.domain.market_errors import MarketDataError, ReferenceDataError
from chalicelib.domain.underlying import Underlying

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

T = TypeVar("T")


class EffectiveDated(Protocol):
    """Anything that takes effect from a date."""

    @property
    def effective_from(self) -> date: ...


E = TypeVar("E", bound=EffectiveDated)


@cache
def load_data_file(name: str) -> dict[str, Any]:
    """Read ``chalicelib/data/<name>.json`` once; check it has a source and a non-empty body."""
    path = DATA_DIR / f"{name}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ReferenceDataError(f"{path.name}: cannot read: {exc}", field=name) from exc
    return check_document(document, name)


def check_document(document: Any, name: str) -> dict[str, Any]:
    """Every data file is an object with a ``source`` string and an ``entries`` list."""
    if not isinstance(document, dict):
        raise ReferenceDataError(f"{name}: top level must be an object", field=name)
    if not isinstance(document.get("source"), str) or not document["source"].strip():
        raise ReferenceDataError(f"{name}: missing 'source' note", field=name)
    entries = document.get("entries")
    if not isinstance(entries, list) or not entries:
        raise ReferenceDataError(f"{name}: 'entries' must be a non-empty list", field=name)
    return document


def field(entry: Any, key: str, where: str, convert: Callable[[Any], T]) -> T:
    """Fetch ``entry[key]`` and convert it, turning any failure into a ``ReferenceDataError``."""
    if not isinstance(entry, dict) or key not in entry:
        raise ReferenceDataError(f"{where}: missing '{key}'", field=key)
    try:
        return convert(entry[key])
    except (TypeError, ValueError, KeyError, InvalidOperation) as exc:
        raise ReferenceDataError(
            f"{where}: bad '{key}': {entry[key]!r} ({exc})", field=key
        ) from exc


def as_date(value: Any) -> date:
    """ISO date string -> date."""
    if not isinstance(value, str):
        raise TypeError("expected an ISO date string")
    return date.fromisoformat(value)


def as_time(value: Any) -> time:
    """'HH:MM' string -> time."""
    if not isinstance(value, str):
        raise TypeError("expected an HH:MM string")
    return time.fromisoformat(value)


def as_decimal(value: Any) -> Decimal:
    """A number given as a JSON string (never a float, to keep it exact) -> finite Decimal."""
    if not isinstance(value, str):
        raise TypeError("numbers are written as strings in the data files")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError("not finite")
    return result


def as_positive_int(value: Any) -> int:
    """A strictly positive JSON integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("expected a positive integer")
    return value


def as_underlying_map(convert: Callable[[Any], T]) -> Callable[[Any], dict[Underlying, T]]:
    """A converter for an object keyed by underlying name that must name every underlying."""

    def _convert(value: Any) -> dict[Underlying, T]:
        if not isinstance(value, dict):
            raise TypeError("expected an object keyed by underlying")
        unknown = set(value) - {u.value for u in Underlying}
        if unknown:
            raise ValueError(f"unknown underlyings {sorted(unknown)}")
        return {Underlying(k): convert(v) for k, v in value.items()}

    return _convert


def sorted_by_effective_date(items: Sequence[E], name: str) -> list[E]:
    """Sort by ``effective_from`` and refuse two entries taking effect on the same day."""
    ordered = sorted(items, key=lambda item: item.effective_from)
    for before, after in itertools.pairwise(ordered):
        if before.effective_from == after.effective_from:
            raise ReferenceDataError(
                f"{name}: two entries take effect on {after.effective_from}", field="effective_from"
            )
    return ordered


def in_force(items: Sequence[E], on: date, what: str) -> E:
    """The entry in force on ``on`` (latest ``effective_from`` <= on) from a sorted sequence."""
    chosen: E | None = None
    for item in items:
        if item.effective_from > on:
            break
        chosen = item
    if chosen is None:
        raise MarketDataError(f"no {what} in force on {on.isoformat()}", field="date")
    return chosen
