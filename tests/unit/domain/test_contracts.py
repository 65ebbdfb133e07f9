import copy
from datetime import date
from decimal import Decimal

import pytest

from chalicelib.domain.contracts import contract_rules_from_documents, contract_spec
from chalicelib.domain.market_errors import MarketDataError, ReferenceDataError
from chalicelib.domain.reference_data import load_data_file
from chalicelib.domain.underlying import Exchange
from chalicelib.domain.underlying import Underlying as U

D = date.fromisoformat

CURRENT = {"NIFTY": 65, "BANKNIFTY": 30, "FINNIFTY": 60, "MIDCPNIFTY": 120, "NIFTYNXT50": 25,
           "SENSEX": 20}  # fmt: skip
JUL_2025 = {"NIFTY": 75, "BANKNIFTY": 35, "FINNIFTY": 65, "MIDCPNIFTY": 140, "NIFTYNXT50": 25,
            "SENSEX": 20}  # fmt: skip
NOV_2024 = {"NIFTY": 75, "BANKNIFTY": 30, "FINNIFTY": 65, "MIDCPNIFTY": 120, "NIFTYNXT50": 25,
            "SENSEX": 20}  # fmt: skip


@pytest.mark.parametrize("name", list(CURRENT))
def test_lot_sizes_across_the_three_revisions(name):
    u = U(name)
    assert contract_spec(u, D("2026-12-29"), D("2026-11-25")).lot_size == CURRENT[name]
    assert contract_spec(u, D("2025-10-28"), D("2025-10-01")).lot_size == JUL_2025[name]
    assert contract_spec(u, D("2025-06-26"), D("2025-06-02")).lot_size == NOV_2024[name]


def test_january_2026_change_two_lot_sizes_coexist_in_december_2025():
    on = D("2025-12-15")
    assert contract_spec(U.NIFTY, D("2025-12-30"), on).lot_size == 75  # December monthly
    assert contract_spec(U.NIFTY, D("2026-01-06"), on).lot_size == 65  # January weekly
    assert contract_spec(U.BANKNIFTY, D("2025-12-30"), on).lot_size == 35
    assert contract_spec(U.BANKNIFTY, D("2026-01-27"), on).lot_size == 30
    # Before the revision took effect, an already-listed January contract kept the old lot.
    assert contract_spec(U.NIFTY, D("2026-01-27"), D("2025-11-10")).lot_size == 75


def test_july_2025_change_applies_by_contract():
    on = D("2025-07-15")
    assert contract_spec(U.BANKNIFTY, D("2025-07-24"), on).lot_size == 30  # before Jul monthly
    assert contract_spec(U.BANKNIFTY, D("2025-07-31"), on).lot_size == 35  # Jul monthly on
    assert contract_spec(U.MIDCPNIFTY, D("2025-08-28"), on).lot_size == 140


def test_default_on_is_the_expiry_date():
    assert contract_spec(U.NIFTY, D("2026-01-27")).lot_size == 65


def test_freeze_limits_change_on_2026_02_01_by_order_date():
    expiry = D("2026-02-24")
    assert contract_spec(U.BANKNIFTY, expiry, D("2026-01-30")).freeze_qty == 900
    assert contract_spec(U.BANKNIFTY, expiry, D("2026-02-02")).freeze_qty == 600
    spec = contract_spec(U.NIFTY, D("2026-12-01"), D("2026-11-25"))
    assert spec.freeze_qty == 1800
    assert spec.max_lots_per_order == 27  # floor(1800 / 65)
    assert contract_spec(U.SENSEX, D("2026-12-03"), D("2026-11-25")).max_lots_per_order == 50
    assert contract_spec(U.MIDCPNIFTY, D("2026-12-29"), D("2026-11-25")).max_lots_per_order == 23


def test_sensex_is_a_bfo_contract_and_the_rest_nfo():
    assert contract_spec(U.SENSEX, D("2026-12-03"), D("2026-11-25")).exchange is Exchange.BFO
    for u in U:
        if u is not U.SENSEX:
            assert contract_spec(u, D("2026-12-29"), D("2026-11-25")).exchange is Exchange.NFO


def test_strike_steps_and_tick():
    steps = {u: contract_spec(u, D("2026-12-29"), D("2026-11-25")).strike_step for u in U}
    assert steps[U.NIFTY] == 50 and steps[U.BANKNIFTY] == 100 and steps[U.MIDCPNIFTY] == 25
    assert steps[U.SENSEX] == 100 and steps[U.FINNIFTY] == 50
    assert contract_spec(U.NIFTY, D("2026-12-29")).tick_size == Decimal("0.05")


def test_contracts_before_the_first_revision_have_no_lot_size():
    with pytest.raises(MarketDataError):
        contract_spec(U.NIFTY, D("2024-11-14"), D("2024-11-01"))


def _docs():
    return tuple(
        copy.deepcopy(load_data_file(n)) for n in ("lot_sizes", "freeze_limits", "strike_steps")
    )


@pytest.mark.parametrize(
    "mutate",
    [
        lambda lots, fr, st: lots["entries"][0]["lot_sizes"].update(NIFTY=0),
        lambda lots, fr, st: lots["entries"][0]["lot_sizes"].update(BANKEX=15),
        lambda lots, fr, st: lots["entries"][0]["lot_sizes"].pop("SENSEX"),
        lambda lots, fr, st: lots["entries"][1].update(effective_from="2024-11-20"),
        lambda lots, fr, st: fr["entries"][0]["freeze_qty"].pop("NIFTY"),
        lambda lots, fr, st: st["entries"][0]["strike_step"].update(NIFTY="0.03"),
        lambda lots, fr, st: st["entries"][0]["strike_step"].update(NIFTY=50),
        lambda lots, fr, st: st["entries"][0]["strike_step"].pop("NIFTY"),
        lambda lots, fr, st: st["entries"][0].update(tick_size="0"),
    ],
)
def test_bad_contract_data_is_rejected(mutate):
    lots, freeze, steps = _docs()
    mutate(lots, freeze, steps)
    with pytest.raises(ReferenceDataError):
        contract_rules_from_documents(lots, freeze, steps)
