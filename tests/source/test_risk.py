"""The margin math (alertbot/source/risk.py): worked vectors by hand, then properties."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from alertbot.source.risk import (
    RATIO_CAP,
    Leg,
    distance,
    effective_imf,
    funding_estimate,
    leg_risk,
    liquidatable,
    liquidation_price,
    margin_ratio,
    moved,
    totals,
)

BTC = 60_000.0


def btc(size: float, price: float = BTC, mmf: float = 0.03, imf: float = 0.05) -> Leg:
    return Leg("BTC-USD", size, price, mmf, imf)


def eth(size: float, price: float = 3_000.0, mmf: float = 0.05, imf: float = 0.1) -> Leg:
    return Leg("ETH-USD", size, price, mmf, imf)


def liq_of(usdc: float, legs: list[Leg], j: int) -> float | None:
    total = totals(usdc, legs)
    return liquidation_price(legs[j], total.equity, total.mmr)


# --- the issue's worked vectors ------------------------------------------------------------


def test_long_vector_from_the_issue() -> None:
    # E = -5000 + 0.1*60000 = 1000; MMR = 0.1*60000*0.03 = 180; others = 0
    # p = (0 + 6000 - 1000) / (0.1 * 0.97) = 5000 / 0.097 = 51546.3917...
    legs = [btc(0.1)]
    total = totals(-5_000.0, legs)
    assert total.equity == pytest.approx(1_000.0)
    assert total.mmr == pytest.approx(180.0)
    liq = liquidation_price(legs[0], total.equity, total.mmr)
    assert liq == pytest.approx(51_546.39, abs=0.005)
    # there: E = -5000 + 0.1*51546.39 = 154.64; MMR = 0.1*51546.39*0.03 = 154.64
    at = totals(-5_000.0, moved(legs, {"BTC-USD": liq / BTC - 1.0}))
    assert round(at.equity, 2) == round(at.mmr, 2) == 154.64


def test_short_vector_from_the_issue() -> None:
    # E = 7000 - 0.1*60000 = 1000; MMR = 180
    # p = (0 - 6000 - 1000) / (-0.1 * 1.03) = -7000 / -0.103 = 67961.165...
    assert liq_of(7_000.0, [btc(-0.1)], 0) == pytest.approx(67_961.17, abs=0.005)


# --- six more, by hand ----------------------------------------------------------------------


def test_two_longs_in_cross_margin_share_equity() -> None:
    # BTC 0.1 @ 60000 (mmf .03) and ETH 2 @ 3000 (mmf .05), USDC -10000
    # E = -10000 + 6000 + 6000 = 2000; MMR = 180 + 300 = 480
    # BTC: p = (300 + 6000 - 2000) / (0.1*0.97) = 4300 / 0.097 = 44329.90
    # ETH: p = (180 + 6000 - 2000) / (2*0.95)   = 4180 / 1.9   = 2200.00
    legs = [btc(0.1), eth(2.0)]
    assert liq_of(-10_000.0, legs, 0) == pytest.approx(44_329.90, abs=0.005)
    assert liq_of(-10_000.0, legs, 1) == pytest.approx(2_200.0, abs=0.005)


def test_a_short_beside_a_long() -> None:
    # BTC long 0.1 @ 60000, ETH short -2 @ 3000, USDC 1000
    # E = 1000 + 6000 - 6000 = 1000; MMR = 180 + 300 = 480
    # BTC: p = (300 + 6000 - 1000) / 0.097 = 5300 / 0.097 = 54639.18
    # ETH: p = (180 - 6000 - 1000) / (-2*1.05) = -6820 / -2.1 = 3247.62
    legs = [btc(0.1), eth(-2.0)]
    assert liq_of(1_000.0, legs, 0) == pytest.approx(54_639.18, abs=0.005)
    assert liq_of(1_000.0, legs, 1) == pytest.approx(3_247.62, abs=0.005)


def test_isolated_children_are_separate_margin_accounts() -> None:
    # child 128: BTC 0.1 long, USDC -5500 -> E = 500, MMR 180
    #   p = (6000 - 500) / 0.097 = 56701.03  (nearer than in cross)
    # child 256: ETH -1 short, USDC 3600 -> E = 600, MMR 150
    #   p = (-3000 - 600) / (-1*1.05) = 3428.57
    # the parent's total equity is 500 + 600 = 1100; the nearest liquidation is BTC:
    #   (60000-56701.03)/60000 = 5.50 %  vs  (3428.57-3000)/3000 = 14.29 %
    a, b = totals(-5_500.0, [btc(0.1)]), totals(3_600.0, [eth(-1.0)])
    la = liquidation_price(btc(0.1), a.equity, a.mmr)
    lb = liquidation_price(eth(-1.0), b.equity, b.mmr)
    assert la == pytest.approx(56_701.03, abs=0.005)
    assert lb == pytest.approx(3_428.57, abs=0.005)
    assert a.equity + b.equity == pytest.approx(1_100.0)
    assert distance(btc(0.1), la)[0] == pytest.approx(5.50, abs=0.005)
    assert distance(eth(-1.0), lb)[0] == pytest.approx(14.29, abs=0.005)


def test_zero_size_and_no_debt_have_no_liquidation_price() -> None:
    # size 0: no denominator -> None. A fully funded long (USDC 0, E = 6000):
    # p = (6000 - 6000) / 0.097 = 0 -> not positive -> None
    # the distance is then measured to 0: the long must fall 100 %, all 60000 USD of it
    assert liq_of(0.0, [btc(0.0)], 0) is None
    assert distance(btc(0.0), None) == (None, None)
    assert liq_of(0.0, [btc(0.1)], 0) is None
    assert distance(btc(0.1), None) == (100.0, 60_000.0)


def test_a_short_liquidatable_at_any_price_has_distance_minus_100() -> None:
    # BTC short -0.1 @ 60000 beside ETH long 100 @ 3000 (mmf .05: MMR_others = 15000),
    # USDC -289000: E = -289000 - 6000 + 300000 = 5000; MMR = 15000 + 180 = 15180 > E
    # BTC: p = (15000 - 6000 - 5000) / (-0.1 * 1.03) = 4000 / -0.103 < 0 -> None
    legs = [btc(-0.1), eth(100.0)]
    total = totals(-289_000.0, legs)
    assert total.equity == pytest.approx(5_000.0)
    assert liquidatable(total)
    assert liq_of(-289_000.0, legs, 0) is None
    assert distance(legs[0], None) == (-100.0, -60_000.0)


def test_closed_position_leaves_only_usdc() -> None:
    # after a close the account has no legs: E = USDC, MMR = 0, never liquidatable
    total = totals(1_234.0, [])
    assert total == (1_234.0, 0.0, 0.0, 0.0)
    assert not liquidatable(total)
    assert margin_ratio(total.mmr, total.equity) == 0.0


def test_negative_usdc_with_a_liquidatable_account() -> None:
    # BTC 0.1 @ 60000, USDC -5900: E = 100 < MMR = 180 -> liquidatable
    # p = (6000 - 100) / 0.097 = 60824.74, above the oracle: distance is negative
    # (60000 - 60824.74) / 60000 = -1.37 %; margin ratio 180 / 100 = 1.8
    leg = btc(0.1)
    total = totals(-5_900.0, [leg])
    assert liquidatable(total)
    risk = leg_risk(leg, total)
    assert risk.liquidation_price == pytest.approx(60_824.74, abs=0.005)
    assert risk.distance_pct == pytest.approx(-1.37, abs=0.005)
    assert risk.distance_usd == pytest.approx(-824.74, abs=0.005)
    assert margin_ratio(total.mmr, total.equity) == pytest.approx(1.8)
    assert margin_ratio(180.0, -5.0) == RATIO_CAP


def test_cross_stress_one_loss_moves_the_other_liquidation() -> None:
    # BTC 0.1 long and ETH 2 long, USDC -10000 (E 2000, MMR 480); ETH falls 10 % to 2700:
    # E = -10000 + 6000 + 5400 = 1400; MMR = 180 + 2*2700*0.05 = 450
    # BTC: p = (270 + 6000 - 1400) / 0.097 = 4870 / 0.097 = 50206.19 (was 44329.90)
    after = moved([btc(0.1), eth(2.0)], {"ETH-USD": -0.10})
    assert after[1].price == pytest.approx(2_700.0)
    assert liq_of(-10_000.0, after, 0) == pytest.approx(50_206.19, abs=0.005)


def test_requirements_and_effective_imf() -> None:
    # requirements of BTC 0.1 @ 60000: maintenance 6000*0.03 = 180, initial 6000*0.05 = 300
    risk = leg_risk(btc(0.1), totals(-5_000.0, [btc(0.1)]))
    assert (risk.maintenance, risk.initial) == pytest.approx((180.0, 300.0))
    # OI scaling: OI 100 BTC * 60000 = 6M notional, caps 5M..15M: factor 0.1,
    # imf = 0.05 + 0.1 * 0.95 = 0.145; at or below the lower cap: 0.05; above the upper: 1
    assert effective_imf(0.05, 100.0, BTC, 5e6, 15e6) == pytest.approx(0.145)
    assert effective_imf(0.05, 50.0, BTC, 5e6, 15e6) == 0.05
    assert effective_imf(0.05, 300.0, BTC, 5e6, 15e6) == 1.0
    assert effective_imf(0.05, 300.0, BTC, 0.0, 0.0) == 0.05  # upper cap 0: disabled
    assert effective_imf(0.05, None, BTC, 5e6, 15e6) == 0.05


def test_funding_signs() -> None:
    # positive rate: longs pay, shorts receive; 0.1 BTC * 60000 * 0.0001 = 0.6
    assert funding_estimate(0.1, BTC, 0.0001) == pytest.approx(-0.6)
    assert funding_estimate(-0.1, BTC, 0.0001) == pytest.approx(0.6)
    assert funding_estimate(0.1, BTC, -0.0001) == pytest.approx(0.6)
    assert funding_estimate(0.1, BTC, None) is None


# --- properties -------------------------------------------------------------------------------

sizes = st.floats(0.001, 100.0).flatmap(lambda s: st.sampled_from([s, -s]))
prices = st.floats(1.0, 100_000.0)
mmfs = st.floats(0.005, 0.2)


@given(sizes, prices, mmfs, st.floats(0.05, 50.0), st.floats(0.0, 5.0))
def test_equity_equals_mmr_at_the_liquidation_price(
    size: float, price: float, mmf: float, lev: float, other_mmr: float
) -> None:
    notional = abs(size) * price
    usdc = notional / lev - size * price  # equity = notional / leverage
    leg = Leg("X", size, price, mmf, mmf)
    other = Leg("Y", 1.0, other_mmr * 100.0, 0.01, 0.01)
    usdc -= other.price  # keep equity unchanged by the other leg
    total = totals(usdc, [leg, other])
    liq = liquidation_price(leg, total.equity, total.mmr)
    if liq is None:
        return
    at = totals(usdc, [leg._replace(price=liq), other])
    assert at.equity == pytest.approx(at.mmr, rel=1e-6, abs=1e-6 * max(1.0, notional))


@given(sizes, prices, mmfs, st.floats(1.5, 50.0), st.floats(0.0, 1.0))
def test_moving_toward_liquidation_never_increases_distance(
    size: float, price: float, mmf: float, lev: float, step: float
) -> None:
    usdc = abs(size) * price / lev - size * price
    leg = Leg("X", size, price, mmf, mmf)
    total = totals(usdc, [leg])
    liq = liquidation_price(leg, total.equity, total.mmr)
    assume(liq is not None and not liquidatable(total))  # a safe account, moving toward it
    assert liq is not None
    new_price = price + (liq - price) * step
    closer = leg._replace(price=new_price)
    t2 = totals(usdc, [closer])
    before = distance(leg, liq)[1]
    after = distance(closer, liquidation_price(closer, t2.equity, t2.mmr))[1]
    assert before is not None
    assert after is not None
    assert after <= before + 1e-6 * price
