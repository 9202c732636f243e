"""Accounts: live equity and margin vs hand-computed numbers, position diffs, parent subaccounts."""

from __future__ import annotations

from typing import Any

import pytest

from alertbot.source.accounts import RATIO_CAP
from alertbot.source.normalize import Normalizer
from tests.source.riskkinds import without_risk

ADDR = "dydx1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
SUB_ID = f"{ADDR}/0"
CH = "v4_subaccounts"
PCH = "v4_parent_subaccounts"


def _fail(reason: str, raw: Any) -> None:
    raise AssertionError(f"unexpected problem {reason}: {raw}")


def market(ticker: str, price: str | None, imf: str, mmf: str) -> dict:
    return {
        "ticker": ticker,
        "status": "ACTIVE",
        "oraclePrice": price,
        "priceChange24H": "10",
        "volume24H": "1000",
        "trades24H": 5,
        "nextFundingRate": "0.0001",
        "initialMarginFraction": imf,
        "maintenanceMarginFraction": mmf,
        "openInterest": "7",
    }


MARKETS = {
    "markets": {
        "ETH-USD": market("ETH-USD", "2000", "0.05", "0.03"),
        "BTC-USD": market("BTC-USD", "50000", "0.1", "0.05"),
        "SOL-USD": market("SOL-USD", "100", "0.1", "0.05"),
    }
}


def position(ticker: str, side: str, size: str, entry: str, upnl: str, **kw: Any) -> dict:
    item = {
        "market": ticker,
        "status": "OPEN",
        "side": side,
        "size": size,
        "maxSize": size,
        "entryPrice": entry,
        "exitPrice": None,
        "realizedPnl": "0",
        "unrealizedPnl": upnl,
        "sumOpen": size.lstrip("-"),
        "sumClose": "0",
        "netFunding": "0",
    }
    item.update(kw)
    return item


def subaccount(number: int = 0, usdc: str = "10000", side: str = "LONG", **kw: Any) -> dict:
    sub = {
        "address": ADDR,
        "subaccountNumber": number,
        "equity": "9000.5",
        "freeCollateral": "8300.5",
        "openPerpetualPositions": {
            "ETH-USD": position("ETH-USD", "LONG", "2", "1900", "200"),
            "BTC-USD": position("BTC-USD", "SHORT", "-0.1", "51000", "100"),
        },
        "assetPositions": {"USDC": {"symbol": "USDC", "side": side, "size": usdc}},
        "marginEnabled": True,
        "updatedAtHeight": "900",
        "latestProcessedBlockHeight": "1000",
    }
    sub.update(kw)
    return sub


def accounts(events) -> list[dict]:
    return [e.data for e in events if e.kind == "account"]


def loaded() -> Normalizer:
    n = Normalizer(on_problem=_fail)
    n.snapshot("v4_markets", None, MARKETS, 0.0, 0)
    return n


def test_snapshot_uses_reported_equity_and_computes_margins() -> None:
    n = loaded()
    events = n.snapshot(CH, SUB_ID, {"subaccount": subaccount(), "orders": []}, 1.0, 2)
    assert [e.kind for e in without_risk(events)] == [
        "account"
    ]  # first snapshot: no position events
    acct = events[0].data
    assert acct["origin"] == "snapshot"
    assert events[0].conn == 2
    assert acct["equity"] == 9000.5
    assert acct["free_collateral"] == 8300.5
    assert acct["initial_margin"] == pytest.approx(4000 * 0.05 + 5000 * 0.1)
    assert acct["maintenance_margin"] == pytest.approx(4000 * 0.03 + 5000 * 0.05)
    assert acct["margin_usage"] == pytest.approx(700 / 9000.5)
    assert acct["leverage"] == pytest.approx(9000 / 9000.5)
    assert acct["usdc"] == 10000.0
    assert acct["position_count"] == 2
    assert acct["parent_subaccount"] is None
    eth = next(p for p in acct["positions"] if p["ticker"] == "ETH-USD")
    assert eth == {
        "ticker": "ETH-USD",
        "side": "LONG",
        "size": 2.0,
        "entry_price": 1900.0,
        "oracle_price": 2000.0,
        "notional": 4000.0,
        "unrealized_pnl": 200.0,
    }


def test_oracle_price_update_recomputes_equity_live() -> None:
    n = loaded()
    n.snapshot(CH, SUB_ID, {"subaccount": subaccount(), "orders": []}, 1.0, 0)
    price = {"oraclePrices": {"ETH-USD": {"oraclePrice": "2100", "effectiveAtHeight": "1001"}}}
    events = n.update("v4_markets", None, price, 2.0, 4)
    assert [e.kind for e in without_risk(events)] == ["market", "account"]
    assert events[0].data["oracle_price"] == 2100.0
    acct = events[1].data
    # USDC 10000 + 2 x 2100 - 0.1 x 50000 + 0.5 (offset to the reported equity)
    assert acct["equity"] == pytest.approx(9200.5)
    assert acct["initial_margin"] == pytest.approx(4200 * 0.05 + 5000 * 0.1)
    assert acct["free_collateral"] == pytest.approx(9200.5 - 710)
    assert acct["maintenance_margin"] == pytest.approx(4200 * 0.03 + 5000 * 0.05)
    assert acct["margin_usage"] == pytest.approx(710 / 9200.5)
    assert acct["leverage"] == pytest.approx(9200 / 9200.5)
    assert acct["origin"] == "price"
    assert events[1].conn == 4
    eth = next(p for p in acct["positions"] if p["ticker"] == "ETH-USD")
    assert eth["unrealized_pnl"] == pytest.approx(400.0)
    assert eth["notional"] == 4200.0


def test_price_of_a_market_nobody_holds_emits_no_account() -> None:
    n = loaded()
    n.snapshot(CH, SUB_ID, {"subaccount": subaccount(), "orders": []}, 1.0, 0)
    events = n.update(
        "v4_markets", None, {"oraclePrices": {"SOL-USD": {"oraclePrice": "101"}}}, 2, 0
    )
    assert [e.kind for e in without_risk(events)] == ["market"]


def test_unknown_price_falls_back_to_the_snapshot_implied_price() -> None:
    n = Normalizer(on_problem=_fail)
    events = n.snapshot(CH, SUB_ID, {"subaccount": subaccount(), "orders": []}, 1.0, 0)
    acct = accounts(events)[0]
    eth = next(p for p in acct["positions"] if p["ticker"] == "ETH-USD")
    assert eth["oracle_price"] == pytest.approx(2000.0)  # entry 1900 + upnl 200 / size 2
    assert acct["initial_margin"] == 0.0  # margin fractions unknown until v4_markets
    later = n.snapshot("v4_markets", None, MARKETS, 2.0, 0)
    revalued = accounts(later)
    assert len(revalued) == 1
    assert revalued[0]["origin"] == "price"
    assert revalued[0]["equity"] == pytest.approx(9000.5)
    assert revalued[0]["initial_margin"] == pytest.approx(700)


def test_entry_price_is_the_last_resort() -> None:
    n = Normalizer(on_problem=_fail)
    sub = subaccount(
        openPerpetualPositions={"ETH-USD": position("ETH-USD", "LONG", "1", "1900", "0")}
    )
    del sub["openPerpetualPositions"]["ETH-USD"]["unrealizedPnl"]
    acct = accounts(n.snapshot(CH, SUB_ID, {"subaccount": sub}, 1.0, 0))[0]
    assert acct["positions"][0]["oracle_price"] == 1900.0


def test_position_updates_emit_diffs_and_recompute() -> None:
    n = loaded()
    n.snapshot(CH, SUB_ID, {"subaccount": subaccount(), "orders": []}, 1.0, 0)
    grow = {"perpetualPositions": [position("ETH-USD", "LONG", "3", "1950", "150")]}
    events = n.update(CH, SUB_ID, grow, 2.0, 0)
    assert [e.kind for e in without_risk(events)] == ["position.changed", "account"]
    changed = events[0].data
    assert changed["size"] == 3.0
    assert changed["previous_size"] == 2.0
    assert changed["entry_price"] == 1950.0
    assert changed["status"] == "OPEN"
    assert events[1].data["origin"] == "update"
    assert events[1].data["equity"] == pytest.approx(10000 + 6000 - 5000 + 0.5)
    usdc = {"assetPositions": [{"symbol": "USDC", "side": "LONG", "size": "8000"}]}
    acct = accounts(n.update(CH, SUB_ID, usdc, 3.0, 0))[0]
    assert acct["equity"] == pytest.approx(8000 + 6000 - 5000 + 0.5)
    close = {"perpetualPositions": [position("BTC-USD", "SHORT", "0", "0", "0", status="CLOSED")]}
    events = n.update(CH, SUB_ID, close, 4.0, 0)
    assert [e.kind for e in without_risk(events)] == ["position.closed", "account"]
    assert events[0].data["previous_size"] == -0.1
    assert events[0].data["size"] == 0.0
    assert events[0].data["status"] == "CLOSED"
    assert events[0].data["side"] == "SHORT"
    assert events[1].data["position_count"] == 1
    # BTC is no longer held: its price moves nobody
    btc = {"oraclePrices": {"BTC-USD": {"oraclePrice": "1"}}}
    assert [e.kind for e in n.update("v4_markets", None, btc, 5.0, 0)] == ["market"]
    opened = {"perpetualPositions": [position("SOL-USD", "SHORT", "-5", "100", "0")]}
    events = n.update(CH, SUB_ID, opened, 6.0, 0)
    assert [e.kind for e in without_risk(events)] == ["position.opened", "account"]
    assert events[0].data["previous_size"] == 0.0
    assert events[0].data["size"] == -5.0


def test_transient_zero_entry_price_keeps_the_previous_one() -> None:
    n = loaded()
    n.snapshot(CH, SUB_ID, {"subaccount": subaccount(), "orders": []}, 1.0, 0)
    item = position("ETH-USD", "LONG", "2.5", "0", "0", sumOpen="0")
    events = n.update(CH, SUB_ID, {"perpetualPositions": [item]}, 2.0, 0)
    assert events[0].data["entry_price"] == 1900.0


def test_usdc_short_is_negative_and_nonpositive_equity_caps_ratios() -> None:
    n = loaded()
    sub = subaccount(usdc="12000", side="SHORT", equity="-3000", freeCollateral="-3700")
    acct = accounts(n.snapshot(CH, SUB_ID, {"subaccount": sub}, 1.0, 0))[0]
    assert acct["usdc"] == -12000.0
    assert acct["equity"] == -3000.0
    assert acct["margin_usage"] == RATIO_CAP
    assert acct["leverage"] == RATIO_CAP


def test_no_positions_means_zero_usage() -> None:
    n = loaded()
    sub = subaccount(openPerpetualPositions={}, equity="10000", freeCollateral="10000")
    acct = accounts(n.snapshot(CH, SUB_ID, {"subaccount": sub}, 1.0, 0))[0]
    assert acct["margin_usage"] == 0.0
    assert acct["leverage"] == 0.0
    assert acct["positions"] == []


def test_reconnect_snapshot_diffs_positions_and_resets_equity() -> None:
    n = loaded()
    n.snapshot(CH, SUB_ID, {"subaccount": subaccount(), "orders": []}, 1.0, 0)
    sub = subaccount(equity="5000", freeCollateral="4000")
    sub["openPerpetualPositions"] = {"ETH-USD": position("ETH-USD", "LONG", "1", "1900", "100")}
    events = n.snapshot(CH, SUB_ID, {"subaccount": sub, "orders": []}, 2.0, 1)
    assert [e.kind for e in without_risk(events)] == [
        "position.closed",
        "position.changed",
        "account",
    ]
    assert events[0].data["ticker"] == "BTC-USD"
    assert events[2].data["equity"] == 5000.0
    assert events[2].data["free_collateral"] == 4000.0


def test_empty_snapshot_of_an_unknown_subaccount_then_it_appears() -> None:
    n = loaded()
    assert n.snapshot(CH, SUB_ID, {}, 1.0, 0) == []
    opened = {"perpetualPositions": [position("ETH-USD", "LONG", "1", "2000", "0")]}
    assert [e.kind for e in without_risk(n.update(CH, SUB_ID, opened, 2.0, 0))] == [
        "position.opened",
        "account",
    ]


def test_rest_subaccount_first_is_baseline_then_reconciles() -> None:
    n = loaded()
    first = n.rest_subaccount(ADDR, 0, {"subaccount": subaccount()}, 1.0)
    assert [e.kind for e in without_risk(first)] == ["account"]
    assert first[0].conn == -1
    assert first[0].data["origin"] == "rest"
    sub = subaccount(equity="9100", freeCollateral="8400")
    sub["openPerpetualPositions"]["ETH-USD"]["size"] = "2.5"
    events = n.rest_subaccount(ADDR, 0, {"subaccount": sub}, 2.0)
    assert [e.kind for e in without_risk(events)] == ["position.changed", "account"]
    assert events[1].data["equity"] == 9100.0


def parent_contents(*children: dict, block: str | None = "1000") -> dict:
    sub = {
        "address": ADDR,
        "parentSubaccountNumber": 0,
        "equity": "0",
        "freeCollateral": "0",
        "childSubaccounts": list(children),
    }
    out: dict[str, Any] = {"subaccount": sub, "orders": []}
    if block is not None:
        out["blockHeight"] = block
    return out


def isolated(number: int, usdc: str = "500") -> dict:
    return {
        "address": ADDR,
        "subaccountNumber": number,
        "equity": "700",
        "freeCollateral": "600",
        "openPerpetualPositions": {
            "SOL-USD": position("SOL-USD", "LONG", "2", "100", "0", subaccountNumber=number)
        },
        "assetPositions": {"USDC": {"symbol": "USDC", "side": "LONG", "size": usdc}},
        "marginEnabled": True,
    }


def test_parent_snapshot_emits_one_account_per_child() -> None:
    n = loaded()
    cross = subaccount(0, openPerpetualPositions={}, equity="100", freeCollateral="100")
    del cross["latestProcessedBlockHeight"]
    events = n.snapshot(PCH, SUB_ID, parent_contents(cross, isolated(128), block=None), 1.0, 0)
    got = accounts(events)
    assert [(a["subaccount"], a["parent_subaccount"]) for a in got] == [(0, 0), (128, 0)]
    assert got[1]["equity"] == 700.0
    assert got[1]["position_count"] == 1
    assert [e.kind for e in without_risk(events)] == ["account", "account"]


def test_parent_updates_go_to_the_child_and_new_children_diff() -> None:
    n = loaded()
    n.snapshot(PCH, SUB_ID, parent_contents(isolated(128)), 1.0, 0)
    grow = {"perpetualPositions": [position("SOL-USD", "LONG", "3", "100", "0")]}
    events = n.update(PCH, SUB_ID, grow, 2.0, 0, 128)
    assert [e.kind for e in without_risk(events)] == ["position.changed", "account"]
    assert events[0].data["subaccount"] == 128
    assert events[1].data["subaccount"] == 128
    assert events[1].data["parent_subaccount"] == 0
    assert n.update(PCH, SUB_ID, {"blockHeight": "1002"}, 3.0, 0, 0) == []
    again = n.snapshot(PCH, SUB_ID, parent_contents(isolated(128), isolated(256)), 4.0, 1)
    opened = [e for e in again if e.kind == "position.opened"]
    assert len(opened) == 1
    assert opened[0].data["subaccount"] == 256
    price = n.update(
        "v4_markets", None, {"oraclePrices": {"SOL-USD": {"oraclePrice": "110"}}}, 5, 0
    )
    assert sorted(a["subaccount"] for a in accounts(price)) == [128, 256]


def test_rest_parent_subaccount() -> None:
    n = loaded()
    body = parent_contents(isolated(128))
    del body["orders"]
    events = n.rest_parent_subaccount(ADDR, 0, body, 1.0)
    assert [(e.kind, e.conn, e.data["origin"]) for e in without_risk(events)] == [
        ("account", -1, "rest")
    ]
