from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from chalicelib.domain.expiry import ExpiryChoice, resolve_expiry
from chalicelib.domain.instrument import (
    Broker,
    BrokerRef,
    ContractKey,
    InstrumentMaster,
)
from chalicelib.domain.market_errors import MarketDataError, NoSuchExpiry, NoSuchStrike
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.masters import parse_angel_master, parse_kite_master
from chalicelib.domain.underlying import OptionType
from chalicelib.domain.underlying import Underlying as U

FIXTURES = Path(__file__).parent / "fixtures"
ON = date(2026, 11, 25)
CW, NW, CM, NM = list(ExpiryChoice)
KITE = InstrumentMaster(parse_kite_master((FIXTURES / "kite_instruments.csv").read_text()))
NIFTY_CE = ContractKey(U.NIFTY, date(2026, 12, 1), Decimal(23950), OptionType.CE)


def test_master_expiries_and_strikes_win():
    model = MarketModel(KITE)
    assert model.expiries(U.NIFTY, ON) == [date(2026, 12, 1), date(2026, 12, 29)]
    assert model.strikes(U.NIFTY, date(2026, 12, 1)) == (Decimal(23950), Decimal(24000))
    assert model.resolve_expiry(U.NIFTY, CW, ON) == date(2026, 12, 1)
    assert model.resolve_expiry(U.NIFTY, NW, ON) == date(2026, 12, 29)
    assert model.resolve_expiry(U.NIFTY, CM, ON) == date(2026, 12, 29)
    assert model.resolve_expiry(U.BANKNIFTY, CW, ON) == date(2026, 12, 29)
    with pytest.raises(NoSuchExpiry):
        model.resolve_expiry(U.NIFTY, NM, ON)
    with pytest.raises(NoSuchStrike):
        model.strikes(U.NIFTY, date(2026, 12, 8))


def test_master_that_disagrees_with_the_rules_wins():
    # Pretend the exchange moved the December weekly to Wednesday the 2nd.
    moved = [
        replace(i, key=replace(i.key, expiry=date(2026, 12, 2)))
        if i.expiry == date(2026, 12, 1)
        else i
        for i in KITE
    ]
    model = MarketModel(InstrumentMaster(moved))
    assert resolve_expiry(U.NIFTY, CW, ON) == date(2026, 12, 1)
    assert model.resolve_expiry(U.NIFTY, CW, ON) == date(2026, 12, 2)


def test_master_lot_size_and_tick_override_computed():
    revised = [replace(i, lot_size=75, tick_size=Decimal("0.10")) for i in KITE]
    spec = MarketModel(InstrumentMaster(revised)).contract_spec(U.NIFTY, date(2026, 12, 1), ON)
    assert (spec.lot_size, spec.tick_size, spec.max_lots_per_order) == (75, Decimal("0.10"), 24)
    computed = MarketModel().contract_spec(U.NIFTY, date(2026, 12, 1), ON)
    assert (computed.lot_size, computed.tick_size) == (65, Decimal("0.05"))


def test_without_a_master_the_rules_answer():
    model = MarketModel()
    assert model.expiries(U.NIFTY, ON)[:2] == [date(2026, 12, 1), date(2026, 12, 8)]
    assert model.resolve_expiry(U.NIFTY, NW, ON) == date(2026, 12, 8)
    assert model.is_monthly(U.NIFTY, date(2026, 12, 29))
    strikes = model.strikes(U.NIFTY, date(2026, 12, 1), spot=Decimal("24012.35"), width=2)
    assert strikes == tuple(Decimal(k) for k in (23900, 23950, 24000, 24050, 24100))
    with pytest.raises(MarketDataError):
        model.strikes(U.NIFTY, date(2026, 12, 1))
    with pytest.raises(MarketDataError):
        model.instrument(NIFTY_CE)


def test_an_underlying_missing_from_the_master_falls_back_to_rules():
    model = MarketModel(KITE)
    assert model.expiries(U.FINNIFTY, ON) == [e for e in MarketModel().expiries(U.FINNIFTY, ON)]
    assert model.resolve_expiry(U.FINNIFTY, CM, ON) == date(2026, 12, 29)


def test_master_decides_which_expiry_is_monthly():
    model = MarketModel(KITE)
    assert model.is_monthly(U.NIFTY, date(2026, 12, 29))
    assert not model.is_monthly(U.NIFTY, date(2026, 12, 1))


def test_broker_refs_prefer_the_master_and_compute_only_symbol_dialects():
    model = MarketModel(KITE)
    assert model.broker_ref(Broker.KITE, NIFTY_CE) == BrokerRef(
        "NIFTY26D0123950CE", str(48201 * 256 + 3)
    )
    assert model.instrument(NIFTY_CE).lot_size == 65
    assert model.broker_ref(Broker.FYERS, NIFTY_CE) == BrokerRef("NSE:NIFTY26D0123950CE", "")
    assert model.broker_ref(Broker.NOREN, NIFTY_CE) == BrokerRef("NIFTY01DEC26C23950", "")
    with pytest.raises(MarketDataError):
        model.broker_ref(Broker.ANGEL, NIFTY_CE)
    angel = MarketModel(
        InstrumentMaster(parse_angel_master((FIXTURES / "angel_scrip_master.json").read_text()))
    )
    assert angel.broker_ref(Broker.ANGEL, NIFTY_CE) == BrokerRef("NIFTY01DEC2623950CE", "48201")
    with pytest.raises(MarketDataError):
        angel.instrument(NIFTY_CE).ref(Broker.DHAN)
    # Monthly form for a computed Kite symbol, decided by the master's listing.
    monthly = replace(NIFTY_CE, expiry=date(2026, 12, 29), strike=Decimal(24000))
    assert MarketModel().broker_ref(Broker.KITE, monthly).symbol == "NIFTY26DEC24000CE"


def test_instrument_master_lookups():
    assert len(KITE) == 12
    assert KITE.expiries(U.FINNIFTY) == ()
    assert KITE.strikes(U.FINNIFTY, date(2026, 12, 29)) == ()
    assert KITE.series_sample(U.FINNIFTY, date(2026, 12, 29)) is None
    assert KITE.monthly_expiries(U.SENSEX) == (date(2026, 12, 3),)
    with pytest.raises(NoSuchStrike):
        KITE.instrument(U.NIFTY, date(2026, 12, 1), Decimal(25000), OptionType.CE)
    instrument = KITE.get(NIFTY_CE)
    assert (
        instrument.underlying,
        instrument.expiry,
        instrument.strike,
        instrument.option_type,
    ) == (
        U.NIFTY,
        date(2026, 12, 1),
        Decimal(23950),
        OptionType.CE,
    )


def test_a_master_freeze_quantity_wins_over_the_data_file():
    from chalicelib.domain.masters import parse_upstox_master

    instruments = parse_upstox_master((FIXTURES / "upstox_complete.json").read_text())
    lowered = [replace(i, freeze_qty=1300) for i in instruments]
    spec = MarketModel(InstrumentMaster(lowered)).contract_spec(U.NIFTY, date(2026, 12, 1), ON)
    assert (spec.freeze_qty, spec.max_lots_per_order) == (1300, 20)
    # Kite's master carries no freeze quantity: the dated data answers.
    assert MarketModel(KITE).contract_spec(U.NIFTY, date(2026, 12, 1), ON).freeze_qty == 1800
