"""Merging the brokers' masters: one contract, every broker's symbol and token, freshest facts."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from chalicelib.domain.instrument import Broker, ContractKey, InstrumentMaster
from chalicelib.domain.market_errors import MarketDataError
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.masters import (
    parse_angel_master,
    parse_dhan_master,
    parse_noren_master,
    parse_upstox_master,
)
from chalicelib.domain.masters.merge import merge_masters
from chalicelib.domain.underlying import OptionType
from chalicelib.domain.underlying import Underlying as U
from tests.unit.domain.test_masters import EXPECTED, EXPECTED_REFS, NIFTY_CE, read


def master(parse, name, source):
    return InstrumentMaster(parse(read(name, "rb")), source=source)


@pytest.fixture
def masters():
    return {
        Broker.ANGEL: master(parse_angel_master, "angel_scrip_master.json", "angel"),
        Broker.UPSTOX: master(parse_upstox_master, "upstox_complete.json", "upstox"),
        Broker.DHAN: master(parse_dhan_master, "dhan_scrip_master.csv", "dhan"),
        Broker.NOREN: master(parse_noren_master, "noren_symbols.txt", "noren"),
    }


def test_every_contract_once_with_every_brokers_ref(masters):
    merged = merge_masters(masters.values())
    assert merged.conflicts == ()
    assert len(merged.master) == len(EXPECTED)
    assert merged.master.source == "angel+upstox+dhan+noren"
    nifty = merged.master.get(NIFTY_CE)
    assert set(nifty.refs) == set(masters)
    for broker in masters:
        assert (nifty.refs[broker].symbol, nifty.refs[broker].token) == EXPECTED_REFS[broker]
    # the Upstox master alone prints the freeze limit; it survives even when not first
    assert nifty.freeze_qty == 1800


def test_the_market_model_answers_each_dialect_from_the_merged_master(masters):
    model = MarketModel(merge_masters(masters.values()).master)
    assert model.broker_ref(Broker.ANGEL, NIFTY_CE).token == "48201"
    assert model.broker_ref(Broker.UPSTOX, NIFTY_CE).token == "NSE_FO|48201"
    assert model.broker_ref(Broker.DHAN, NIFTY_CE).token == "48201"
    assert model.broker_ref(Broker.NOREN, NIFTY_CE).symbol == "NIFTY01DEC26C23950"
    # Kite needs no master: computed from the key, monthly-ness from the merged expiries
    assert model.broker_ref(Broker.KITE, NIFTY_CE).symbol == EXPECTED_REFS[Broker.KITE][0]
    with pytest.raises(MarketDataError):
        MarketModel(masters[Broker.NOREN]).broker_ref(Broker.ANGEL, NIFTY_CE)


def test_contracts_listed_by_one_broker_only_are_kept_with_that_ref_only(masters):
    only_angel = ContractKey(U.NIFTY, date(2026, 12, 1), Decimal(25000), OptionType.CE)
    extra = replace(next(iter(masters[Broker.ANGEL])), key=only_angel)
    angel = InstrumentMaster([*masters[Broker.ANGEL], extra], source="angel")
    merged = merge_masters([masters[Broker.UPSTOX], angel]).master
    assert set(merged.get(only_angel).refs) == {Broker.ANGEL}
    assert Decimal(25000) in merged.strikes(U.NIFTY, date(2026, 12, 1))
    with pytest.raises(MarketDataError):
        MarketModel(merged).broker_ref(Broker.UPSTOX, only_angel)


def test_the_first_master_wins_on_contract_facts_and_the_conflict_is_reported(masters):
    revised = InstrumentMaster(
        (replace(i, lot_size=75) if i.key == NIFTY_CE else i for i in masters[Broker.DHAN]),
        source="dhan",
    )
    merged = merge_masters([masters[Broker.ANGEL], revised])
    assert merged.master.get(NIFTY_CE).lot_size == 65
    assert len(merged.conflicts) == 1 and "lot_size 75 in dhan" in merged.conflicts[0]
    assert set(merged.master.get(NIFTY_CE).refs) == {Broker.ANGEL, Broker.DHAN}
    fresh_first = merge_masters([revised, masters[Broker.ANGEL]])
    assert fresh_first.master.get(NIFTY_CE).lot_size == 75


def test_a_broker_ref_given_twice_keeps_the_first(masters):
    angel = masters[Broker.ANGEL]
    moved = InstrumentMaster(
        (replace(i, refs={Broker.ANGEL: replace(i.refs[Broker.ANGEL], token="1")}) for i in angel),
        source="angel-old",
    )
    merged = merge_masters([angel, moved])
    assert merged.master.get(NIFTY_CE).refs[Broker.ANGEL].token == "48201"
    assert len(merged.conflicts) == len(EXPECTED)


def test_nothing_to_merge_is_an_empty_master():
    assert len(merge_masters([]).master) == 0
