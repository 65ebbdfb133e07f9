"""Benchmark of the market model: strike resolution, order building and master loading.

Run:  .venv/bin/python bench/bench_market_model.py
Prints the figures and writes them to bench/results/market_model.json. Figures, not assertions:
tests never time anything.
"""

from __future__ import annotations

import json
import math
import platform
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.domain.expiry import ExpiryChoice
from chalicelib.domain.instrument import Broker, ContractKey
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.masters import MasterHolder, parse_kite_master
from chalicelib.domain.money import TICK, Rounding, snap_to_tick
from chalicelib.domain.option_chain import ChainQuote, OptionChain
from chalicelib.domain.pricing import bs_price_float
from chalicelib.domain.protection import protected_limit_price
from chalicelib.domain.sizing import order_slices
from chalicelib.domain.strike_selection import StrikeMethod, select_strike
from chalicelib.domain.symbols import kite_symbol
from chalicelib.domain.underlying import OptionType, Underlying

RESULTS = Path(__file__).resolve().parent / "results" / "market_model.json"
TODAY = date(2026, 11, 25)
SPOT = Decimal("24012.35")
HEADER = (
    "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,"
    "tick_size,lot_size,instrument_type,segment,exchange"
)
INDEX_SERIES = {  # underlying: (lot, step, centre, strikes per expiry)
    Underlying.NIFTY: (65, 50, 24000, 500),
    Underlying.BANKNIFTY: (30, 100, 54000, 300),
    Underlying.FINNIFTY: (60, 50, 25000, 300),
    Underlying.MIDCPNIFTY: (120, 25, 13000, 300),
    Underlying.NIFTYNXT50: (25, 100, 68000, 200),
}
LEGS = [  # side, type, method, value
    ("SELL", OptionType.CE, StrikeMethod.ATM_OFFSET, 2),
    ("SELL", OptionType.PE, StrikeMethod.ATM_OFFSET, 2),
    ("BUY", OptionType.CE, StrikeMethod.DELTA, Decimal("0.10")),
    ("BUY", OptionType.PE, StrikeMethod.PREMIUM_LTE, Decimal("20")),
]
ACCOUNTS = [("acct-a", Decimal(1)), ("acct-b", Decimal("0.5")), ("acct-c", Decimal(3))]
LOTS = 10


def _expiries(underlying: Underlying) -> list[date]:
    """Synthetic listing: 14 NIFTY Tuesdays, three monthlies for the others (no holiday shifts)."""
    if underlying is Underlying.NIFTY:
        return [date(2026, 12, 1) + timedelta(weeks=i) for i in range(14)]
    return [date(2026, 12, 29), date(2027, 1, 26), date(2027, 2, 23)]


def generate_kite_nfo_csv() -> tuple[str, int]:
    """A Kite-format NFO file of ~100k rows: index options plus stock options to be skipped."""
    rows = [HEADER]
    token = 10_000_000
    for underlying, (lot, step, centre, count) in INDEX_SERIES.items():
        expiries = _expiries(underlying)
        last_of_month = {(e.year, e.month): e for e in expiries}
        for expiry in expiries:
            monthly = last_of_month[(expiry.year, expiry.month)] == expiry
            for i in range(count):
                strike = centre + (i - count // 2) * step
                for option_type in OptionType:
                    token += 1
                    key = ContractKey(underlying, expiry, Decimal(strike), option_type)
                    rows.append(
                        f"{token},{token % 1_000_000},{kite_symbol(key, monthly=monthly)},"
                        f"{underlying},0,{expiry},{strike},0.05,{lot},{option_type},NFO-OPT,NFO"
                    )
    stock_expiries = [date(2026, 12, 29), date(2027, 1, 26), date(2027, 2, 23)]
    for n in range(165):
        name = f"STOCK{n:03d}"
        for expiry in stock_expiries:
            for i in range(80):
                for option_type in ("CE", "PE"):
                    token += 1
                    strike = 500 + 10 * i
                    symbol = f"{name}{expiry:%y%b}{strike}{option_type}".upper()
                    rows.append(
                        f"{token},{token % 1_000_000},{symbol},{name},0,{expiry},{strike},"
                        f"0.05,500,{option_type},NFO-OPT,NFO"
                    )
    return "\n".join(rows) + "\n", len(rows) - 1


def realistic_chain(model: MarketModel, expiry: date, years: float) -> OptionChain:
    """Premiums from Black-Scholes with a skewed smile on the master's listed strikes."""
    s = float(SPOT)
    quotes = []
    for strike in model.strikes(Underlying.NIFTY, expiry):
        k = float(strike)
        m = math.log(k / s)
        vol = 0.13 - 0.5 * m + 1.5 * m * m
        ce, pe = (
            max(
                snap_to_tick(
                    repr(bs_price_float(t, s, k, years, vol, 0.065, 0.0)), TICK, Rounding.NEAREST
                ),
                TICK,
            )
            for t in OptionType
        )
        quotes.append(ChainQuote(strike, ce, pe))
    return OptionChain(quotes)


def build_orders(model: MarketModel, chain: OptionChain, expiry: date, now: datetime) -> list[dict]:
    """Resolve 4 strikes once, then build every account's orders (what the planner does)."""
    expiry_time = datetime.combine(expiry, default_calendar().fo_session_bounds(expiry)[1], IST)
    strikes = [
        select_strike(
            method, value, option_type, SPOT, chain, expiry_time=expiry_time, now=now, rate=0.065
        )
        for _, option_type, method, value in LEGS
    ]
    spec = model.contract_spec(Underlying.NIFTY, expiry, TODAY)
    orders = []
    for account, multiplier in ACCOUNTS:
        for (side, option_type, _, _), strike in zip(LEGS, strikes, strict=True):
            key = ContractKey(Underlying.NIFTY, expiry, strike, option_type)
            ref = model.broker_ref(Broker.KITE, key)
            price = protected_limit_price(side, chain.premium(strike, option_type), on=TODAY)
            for quantity in order_slices(LOTS, multiplier, spec):
                orders.append(
                    {
                        "account": account,
                        "symbol": ref.symbol,
                        "side": side,
                        "qty": quantity,
                        "price": price,
                    }
                )
    return orders


def timed(fn, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    text, rows = generate_kite_nfo_csv()
    holder = MasterHolder(parse_kite_master, required=list(INDEX_SERIES), source="kite-nfo")
    load_samples = timed(lambda: holder.load(text), 5)
    assert holder.current is not None, "generated master was rejected"
    model = MarketModel(holder.current)

    expiry = model.resolve_expiry(Underlying.NIFTY, ExpiryChoice.CURRENT_WEEK, TODAY)
    now = datetime.combine(TODAY, datetime.min.time(), IST) + timedelta(hours=9, minutes=20)
    chain = realistic_chain(
        model,
        expiry,
        (
            datetime.combine(expiry, datetime.min.time(), IST)
            + timedelta(hours=15, minutes=30)
            - now
        ).total_seconds()
        / (365 * 86400),
    )
    orders = build_orders(model, chain, expiry, now)
    repeat = 200
    build_samples = timed(lambda: build_orders(model, chain, expiry, now), repeat)
    expiry_time = datetime.combine(expiry, datetime.min.time(), IST) + timedelta(
        hours=15, minutes=30
    )
    per_method = {}
    for _side, option_type, method, value in LEGS:
        samples = timed(
            lambda m=method, v=value, t=option_type: select_strike(
                m, v, t, SPOT, chain, expiry_time=expiry_time, now=now, rate=0.065
            ),
            repeat,
        )
        per_method[f"{method}:{option_type}"] = statistics.median(samples) * 1e3

    legs = len(LEGS) * len(ACCOUNTS)
    figures = {
        "command": "python bench/bench_market_model.py",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "master_rows": rows,
        "master_index_options": len(holder.current),
        "master_load_s_median": round(statistics.median(load_samples), 3),
        "master_load_s_min": round(min(load_samples), 3),
        "chain_strikes": len(chain),
        "orders_built": len(orders),
        "four_legs_three_accounts_ms_median": round(statistics.median(build_samples) * 1e3, 3),
        "per_leg_ms_median": round(statistics.median(build_samples) * 1e3 / legs, 4),
        "strike_resolution_ms_median": {k: round(v, 4) for k, v in per_method.items()},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"master: {rows} rows ({len(holder.current)} index options) loaded in "
        f"{figures['master_load_s_median']} s median ({figures['master_load_s_min']} s best of 5)"
    )
    print(
        f"4 legs x 3 accounts ({len(orders)} child orders): "
        f"{figures['four_legs_three_accounts_ms_median']} ms median, "
        f"{figures['per_leg_ms_median']} ms per account-leg"
    )
    for name, ms in figures["strike_resolution_ms_median"].items():
        print(f"  select_strike {name}: {ms} ms median over a {len(chain)}-strike chain")
    print(f"written to {RESULTS.relative_to(RESULTS.parent.parent.parent)}")


if __name__ == "__main__":
    main()
