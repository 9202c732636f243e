"""Kinds nobody reads are not built, their state is kept: a kind turned back on is right at once."""

from __future__ import annotations

from typing import Any

from alertbot.source.normalize import Normalizer
from tests.source.riskkinds import without_risk
from tests.source.test_normalize_accounts import CH, SUB_ID, loaded, subaccount
from tests.source.test_normalize_market_data import OB, _fail, book_snapshot
from tests.source.test_normalize_orders import order, started, up


def test_book_kept_without_events_then_turned_back_on() -> None:
    n = Normalizer(on_problem=_fail)
    n.wanted = {"market"}
    assert n.snapshot(OB, "BTC-USD", book_snapshot(), 1.0, 0) == []
    # a better bid and a new deep ask while nobody reads the book: no event, state kept
    assert n.update(OB, "BTC-USD", {"bids": [["99.5", "5"]], "asks": [["103", "1"]]}, 2.0, 0) == []
    n.wanted = {"market", "orderbook"}  # a rule on orderbook was loaded
    [event] = n.update(OB, "BTC-USD", {"asks": [["100.5", "2"]]}, 3.0, 0)
    assert event.data == {
        "ticker": "BTC-USD",
        "best_bid": 99.5,
        "best_ask": 100.5,
        "bid_size": 5.0,
        "ask_size": 2.0,
        "mid": 100.0,
        "spread": 1.0,
        "spread_bps": 100.0,
        "bid_levels": 3,
        "ask_levels": 4,
    }


def test_order_kinds_not_read_are_recorded_as_told_not_built() -> None:
    n = started()
    n.wanted = {"order.canceled"}
    assert up(n, order("o1", "OPEN")) == []
    assert up(n, order("o2", "OPEN")) == []
    [canceled] = up(n, order("o1", "CANCELED"))
    assert canceled.kind == "order.canceled"
    assert canceled.data["previous_status"] == "OPEN"
    n.wanted = None  # every kind again: o2's opening was already past, it is not told late
    assert [e.kind for e in up(n, order("o2", "OPEN", filled="1"))] == ["order.partially_filled"]


def test_account_and_market_state_kept_without_their_events() -> None:
    n = loaded()
    n.risk = False
    n.lazy = True
    n.snapshot(CH, SUB_ID, {"subaccount": subaccount(), "orders": []}, 1.0, 0)
    n.wanted = {"fill"}
    price = {"oraclePrices": {"ETH-USD": {"oraclePrice": "2100"}}}
    assert n.update("v4_markets", None, price, 2.0, 0) == []
    assert n.subs.due == {}  # nothing was marked due: nobody reads what it would make
    usdc = {"assetPositions": [{"symbol": "USDC", "side": "LONG", "size": "11000"}]}
    assert n.update(CH, SUB_ID, usdc, 3.0, 0) == []
    (view,) = n.account_views(4.0)  # the dashboard and digests still see the live values
    assert view["usdc"] == 11000.0
    assert view["equity"] == 11000 + 2 * 2100 - 0.1 * 50000 + 0.5
    n.wanted = {"account", "market"}
    assert [e.kind for e in n.update("v4_markets", None, price, 5.0, 0)] == ["market"]
    assert [e.data["equity"] for e in without_risk(n.flush(6.0))] == [view["equity"]]


def test_trades_candles_and_blocks_follow_wanted() -> None:
    n = Normalizer(on_problem=_fail)
    trade: dict[str, Any] = {
        "id": "014206cf0000000200000002",
        "side": "BUY",
        "size": "0.01",
        "price": "3392.9",
        "type": "LIMIT",
        "createdAt": "2024-08-12T14:06:01.172Z",
    }
    n.wanted = set()
    assert n.update("v4_trades", "ETH-USD", {"trades": [trade]}, 1.0, 0) == []
    assert n.update("v4_block_height", None, {"blockHeight": "10"}, 1.0, 0) == []
    assert n.last_block == 10  # kept: REST history is measured against it
    n.wanted = {"trade", "block"}
    assert [e.kind for e in n.update("v4_trades", "ETH-USD", {"trades": [trade]}, 2.0, 0)] == [
        "trade"
    ]
    assert n.update("v4_block_height", None, {"blockHeight": "10"}, 2.0, 0) == []  # not new
    assert [
        e.data["height"] for e in n.update("v4_block_height", None, {"blockHeight": "11"}, 3.0, 0)
    ] == [11]
