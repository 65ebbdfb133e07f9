"""Parsers for the brokers' instrument masters and the holder that swaps masters atomically.

Each parser takes the file's text or bytes (no network) and returns normalised ``Instrument``
values for the index options of our underlyings, skipping every other row (stocks, futures, other
indices). A malformed row of an index option raises ``MasterParseError`` with its line number, so a
truncated or corrupted file fails as a whole instead of yielding a partial master.
"""

from chalicelib.domain.masters.angel import parse_angel_master
from chalicelib.domain.masters.common import MasterParseError
from chalicelib.domain.masters.dhan import parse_dhan_master
from chalicelib.domain.masters.fyers import parse_fyers_master
from chalicelib.domain.masters.holder import LoadReport, MasterHolder, check_master
from chalicelib.domain.masters.kite import parse_kite_master
from chalicelib.domain.masters.noren import parse_noren_master
from chalicelib.domain.masters.upstox import parse_upstox_master

__all__ = [
    "LoadReport",
    "MasterHolder",
    "MasterParseError",
    "check_master",
    "parse_angel_master",
    "parse_dhan_master",
    "parse_fyers_master",
    "parse_kite_master",
    "parse_noren_master",
    "parse_upstox_master",
]
