"""risk, risk.parent, stop.* and funding events out of the normalizer, numbers by hand."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertbot.core.model import Event
from alertbot.source.accounts import Account, Position
from alertbot.source.markets import Markets
from alertbot.source.normalize import Normalizer
from alertbot.source.orders import Orders
from alertbot.source.risk import Leg, leg_risk, totals
from alertbot.source.riskview import RiskTracker

ADDR = "dydx1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
CH = "v4_subaccounts"
NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def _fail(reason: str, raw: Any) -> None:
    raise AssertionError(f"unexpected problem {reason}: {raw}")


MARKETS = {
    "markets": {
        "BTC-USD": {
            "ticker": "BTC-USD",
            "oraclePrice": "60000",
            "initialMarginFraction": "0.05",
            "maintenanceMarginFraction": "0.03",
            "nextFundingRate": "0.0001",
            "openInterest": "100",
            "openInterestLowerCap": "5000000",
            "openInterestUpperCap": "15000000",
        },
        "ETH-USD": {
            "ticker": "ETH-USD",
            "oraclePrice": "3000",
            "initialMarginFraction": "0.1",
            "maintenanceMarginFraction": "0.05",
            "nextFundingRate": "-0.0002",
        },
    }
}


def pos(ticker: str, size: str, funding: str = "0", status: str = "OPEN") -> dict[str, Any]:
    return {
        "market": ticker,
        "status": status,
        "side": "SHORT" if size.startswith("-") else "LONG",
        "size": size,
        "entryPrice": "60000" if ticker == "BTC-USD" else "3000",
        "unrealizedPnl": "0",
        "netFunding": funding,
    }


def sub(number: int, usdc: float, equity: str, *positions: dict[str, Any]) -> dict[str, Any]:
    return {
        "address": ADDR,
        "subaccountNumber": number,
        "equity": equity,
        "freeCollateral": "0",
        "openPerpetualPositions": {p["market"]: p for p in positions},
        "assetPositions": {
            "USDC": {
                "symbol": "USDC",
                "side": "SHORT" if usdc < 0 else "LONG",
                "size": str(abs(usdc)),
            }
        },
        "latestProcessedBlockHeight": "1000",
    }


def stop(oid: str, trigger: str, status: str = "UNTRIGGERED", **kw: Any) -> dict[str, Any]:
    item = {
        "id": oid,
        "clientId": "1",
        "ticker": "BTC-USD",
        "side": "SELL",
        "size": "0.1",
        "price": trigger,
        "triggerPrice": trigger,
        "type": "STOP_MARKET",
        "status": status,
        "timeInForce": "IOC",
        "reduceOnly": True,
        "postOnly": False,
        "goodTilBlockTime": "2027-01-15T09:00:00.000Z",  # NOW + 3600
        "createdAtHeight": "1001",
    }
    item.update(kw)
    return item


def of(events: list[Event], kind: str) -> list[dict[str, Any]]:
    return [e.data for e in events if e.kind == kind]


def long_btc() -> tuple[Normalizer, list[Event]]:
    """The issue's long vector: 0.1 BTC, USDC -5000, oracle 60000 -> E 1000."""
    n = Normalizer(on_problem=_fail)
    n.snapshot("v4_markets", None, MARKETS, NOW, 0)
    body = {"subaccount": sub(0, -5000.0, "1000", pos("BTC-USD", "0.1")), "orders": []}
    return n, n.snapshot(CH, f"{ADDR}/0", body, NOW, 0)


def test_snapshot_gives_the_worked_vector_and_a_missing_stop() -> None:
    _, events = long_btc()
    [risk] = of(events, "risk")
    assert risk["liquidation_price"] == pytest.approx(51_546.39, abs=0.005)
    # distance: 60000 - 51546.39 = 8453.61 USD = 14.09 % of the oracle
    assert risk["liquidation_distance_usd"] == pytest.approx(8_453.61, abs=0.005)
    assert risk["liquidation_distance_pct"] == pytest.approx(14.089, abs=0.001)
    # OI 100 BTC * 60000 = 6M between caps 5M..15M: imf 0.05 + 0.1 * 0.95 = 0.145
    assert risk["initial_margin_fraction"] == pytest.approx(0.145)
    assert risk["initial_requirement"] == pytest.approx(6000 * 0.145)
    assert risk["maintenance_requirement"] == pytest.approx(180.0)
    assert risk["margin_ratio"] == pytest.approx(0.18)
    assert risk["margin_mode"] == "cross"
    # funding: long pays 0.1 * 60000 * 0.0001 = 0.6 an hour, 14.4 a day
    assert risk["funding_next"] == pytest.approx(-0.6)
    assert risk["funding_per_day"] == pytest.approx(-14.4)
    assert [d["stop_status"] for d in of(events, "stop.missing")] == ["missing"]


def test_oracle_update_recomputes_risk_per_position() -> None:
    n, _ = long_btc()
    update = {"oraclePrices": {"BTC-USD": {"oraclePrice": "55000"}}}
    events = n.update("v4_markets", None, update, NOW + 1, 0)
    [risk] = of(events, "risk")
    # E = -5000 + 5500 = 500; p = (5500 - 500) / 0.097 = 51546.39 (unchanged: one leg)
    # distance = (55000 - 51546.39) / 55000 = 6.279 %
    assert risk["equity"] == pytest.approx(500.0)
    assert risk["liquidation_distance_pct"] == pytest.approx(6.279, abs=0.001)
    assert risk["origin"] == "price"
    assert not of(events, "stop.missing")  # no repeat while the state holds


def test_stop_coverage_sequence_none_unsafe_then_correct() -> None:
    n, events = long_btc()
    assert of(events, "stop.missing")
    # a stop at 50000 sits below the liquidation price 51546.39: it could never fire first
    events = n.update(CH, f"{ADDR}/0", {"orders": [stop("s1", "50000")]}, NOW, 0)
    [unsafe] = of(events, "stop.unsafe")
    assert unsafe["stop_trigger_price"] == 50_000.0
    assert unsafe["previous"] == "missing"
    [risk] = of(events, "risk")
    assert risk["stop_expires_in"] == pytest.approx(3600.0)
    # cancel it and place one at 55000: covered
    events = n.update(CH, f"{ADDR}/0", {"orders": [stop("s1", "50000", "CANCELED")]}, NOW, 0)
    assert of(events, "stop.missing")
    events = n.update(CH, f"{ADDR}/0", {"orders": [stop("s2", "55000")]}, NOW, 0)
    [ok] = of(events, "stop.ok")
    assert (ok["stop_trigger_price"], ok["previous"]) == (55_000.0, "missing")
    # a buy stop or a non-reduce-only stop does not cover a long
    assert of(
        n.update(CH, f"{ADDR}/0", {"orders": [stop("s2", "55000", "CANCELED")]}, NOW, 0),
        "stop.missing",
    )
    plain = stop("s3", "55000", reduceOnly=False)
    wrong_side = stop("s4", "55000", side="BUY")
    events = n.update(CH, f"{ADDR}/0", {"orders": [plain, wrong_side]}, NOW, 0)
    assert [r["stop_status"] for r in of(events, "risk")] == ["missing"]


def test_funding_events_at_settlement_with_signs() -> None:
    n, _ = long_btc()
    # netFunding 0 -> -0.6: the long paid 0.6
    events = n.update(
        CH, f"{ADDR}/0", {"perpetualPositions": [pos("BTC-USD", "0.1", "-0.6")]}, NOW, 0
    )
    [f] = of(events, "funding")
    assert (f["payment"], f["cost"], f["sign_flip"]) == pytest.approx((-0.6, 0.6, False))
    # -0.6 -> -0.1: received 0.5, the sign flipped
    events = n.update(
        CH, f"{ADDR}/0", {"perpetualPositions": [pos("BTC-USD", "0.1", "-0.1")]}, NOW, 0
    )
    [f] = of(events, "funding")
    assert f["payment"] == pytest.approx(0.5)
    assert f["previous_payment"] == pytest.approx(-0.6)
    assert f["sign_flip"] is True
    # a rate wiggle alone is no funding event
    trading = {"trading": {"BTC-USD": {"nextFundingRate": "0.0003"}}}
    assert not of(n.update("v4_markets", None, trading, NOW, 0), "funding")


def test_parent_aggregate_and_isolated_children() -> None:
    n = Normalizer(on_problem=_fail)
    n.snapshot("v4_markets", None, MARKETS, NOW, 0)
    # child 128: BTC 0.1, USDC -5500, E 500 -> p = 5500 / 0.097 = 56701.03, 5.50 % away
    # child 256: ETH -1, USDC 3600, E 600 -> p = -3600 / -1.05 = 3428.57, 14.29 % away
    body = {
        "subaccount": {
            "address": ADDR,
            "parentSubaccountNumber": 0,
            "equity": "1100",
            "freeCollateral": "0",
            "childSubaccounts": [
                sub(128, -5500.0, "500", pos("BTC-USD", "0.1")),
                sub(256, 3600.0, "600", pos("ETH-USD", "-1")),
            ],
        },
        "orders": [],
    }
    events = n.snapshot("v4_parent_subaccounts", f"{ADDR}/0", body, NOW, 0)
    risks = {r["subaccount"]: r for r in of(events, "risk")}
    assert risks[128]["margin_mode"] == risks[256]["margin_mode"] == "isolated"
    assert risks[128]["liquidation_price"] == pytest.approx(56_701.03, abs=0.005)
    assert risks[256]["liquidation_price"] == pytest.approx(3_428.57, abs=0.005)
    parent = of(events, "risk.parent")[-1]
    assert parent["equity"] == pytest.approx(1_100.0)
    assert (parent["nearest_subaccount"], parent["nearest_ticker"]) == (128, "BTC-USD")
    assert parent["liquidation_distance_pct"] == pytest.approx(5.498, abs=0.001)


def test_closed_position_stops_risk_events() -> None:
    n, _ = long_btc()
    closed = pos("BTC-USD", "0", status="CLOSED")
    events = n.update(CH, f"{ADDR}/0", {"perpetualPositions": [closed]}, NOW, 0)
    assert [e.kind for e in events if e.kind.startswith(("risk", "stop"))] == []
    update = {"oraclePrices": {"BTC-USD": {"oraclePrice": "50000"}}}
    assert not of(n.update("v4_markets", None, update, NOW, 0), "risk")


@given(
    st.floats(-20_000.0, 20_000.0),
    st.lists(
        st.tuples(st.floats(-5.0, 5.0), st.floats(1.0, 100_000.0), st.floats(0.005, 0.2)),
        min_size=1,
        max_size=5,
    ),
)
def test_the_inlined_hot_path_matches_the_reference_math(
    usdc: float, specs: list[tuple[float, float, float]]
) -> None:
    markets = Markets()
    acct = Account(ADDR, 0, None)
    acct.usdc = usdc
    legs = []
    for i, (size, price, mmf) in enumerate(specs):
        ticker = f"M{i}-USD"
        markets.merge(ticker, {"oraclePrice": str(price), "maintenanceMarginFraction": str(mmf)})
        markets.merge(ticker, {"initialMarginFraction": str(min(2 * mmf, 1.0))})
        acct.positions[ticker] = Position(ticker, "LONG" if size > 0 else "SHORT", size, "OPEN")
        legs.append(Leg(ticker, size, price, mmf, min(2 * mmf, 1.0)))
    total = totals(usdc, legs)
    events = RiskTracker(markets, Orders()).account(acct, NOW, "price")
    risks = [d for k, d in events if k == "risk"]
    for leg, data in zip(legs, risks, strict=True):
        ref = leg_risk(leg, total)
        assert data["equity"] == pytest.approx(total.equity)
        assert data["liquidation_price"] == pytest.approx(ref.liquidation_price)
        assert data["liquidation_distance_pct"] == pytest.approx(ref.distance_pct)
        assert data["maintenance_requirement"] == pytest.approx(ref.maintenance)
        assert data["initial_requirement"] == pytest.approx(ref.initial)


def test_risk_can_be_switched_off() -> None:
    n = Normalizer(on_problem=_fail, risk=False)
    n.snapshot("v4_markets", None, MARKETS, NOW, 0)
    body = {"subaccount": sub(0, -5000.0, "1000", pos("BTC-USD", "0.1")), "orders": []}
    events = n.snapshot(CH, f"{ADDR}/0", body, NOW, 0)
    events += n.update(
        "v4_markets", None, {"oraclePrices": {"BTC-USD": {"oraclePrice": "55000"}}}, NOW, 0
    )
    events += n.update(
        CH, f"{ADDR}/0", {"perpetualPositions": [pos("BTC-USD", "0.1", "-0.6")]}, NOW, 0
    )
    assert [e.kind for e in events] == ["account", "market", "account", "account"]
