"""Order book (uncrossing), markets, trades, candles and block height."""

from __future__ import annotations

from typing import Any

import pytest

from alertbot.source.book import Book
from alertbot.source.normalize import Normalizer

OB = "v4_orderbook"


def _fail(reason: str, raw: Any) -> None:
    raise AssertionError(f"unexpected problem {reason}: {raw}")


def book_snapshot() -> dict:
    return {
        "bids": [{"price": "99", "size": "1"}, {"price": "98", "size": "2"}],
        "asks": [{"price": "101", "size": "3"}, {"price": "102", "size": "4"}],
    }


def test_snapshot_then_absolute_updates() -> None:
    n = Normalizer(on_problem=_fail)
    [snap] = n.snapshot(OB, "BTC-USD", book_snapshot(), 1.0, 0)
    assert snap.kind == "orderbook"
    assert snap.data == {
        "ticker": "BTC-USD",
        "best_bid": 99.0,
        "best_ask": 101.0,
        "bid_size": 1.0,
        "ask_size": 3.0,
        "mid": 100.0,
        "spread": 2.0,
        "spread_bps": 200.0,
        "bid_levels": 2,
        "ask_levels": 2,
    }
    [ev] = n.update(OB, "BTC-USD", {"bids": [["99", "5"], ["99.5", "1"]]}, 2.0, 0)
    assert ev.data["best_bid"] == 99.5
    assert ev.data["bid_levels"] == 3
    [ev] = n.update(OB, "BTC-USD", {"bids": [["99.5", "0"]]}, 3.0, 0)
    assert ev.data["best_bid"] == 99.0
    assert ev.data["bid_size"] == 5.0


def test_deep_level_changes_emit_no_event() -> None:
    n = Normalizer(on_problem=_fail)
    n.snapshot(OB, "BTC-USD", book_snapshot(), 1.0, 0)
    assert n.update(OB, "BTC-USD", {"bids": [["98", "7"], ["97", "1"]]}, 2.0, 0) == []
    assert n.update(OB, "BTC-USD", {"asks": [["102", "0"]]}, 3.0, 0) == []
    [ev] = n.update(OB, "BTC-USD", {"asks": [["101", "2"]]}, 4.0, 0)  # best ask size moved
    assert (ev.data["ask_size"], ev.data["bid_levels"], ev.data["ask_levels"]) == (2.0, 3, 1)


def test_bid_crossing_asks_drops_the_crossed_asks() -> None:
    n = Normalizer(on_problem=_fail)
    n.snapshot(OB, "BTC-USD", book_snapshot(), 1.0, 0)
    [ev] = n.update(OB, "BTC-USD", {"bids": [["101.5", "1"]]}, 2.0, 0)
    assert ev.data["best_bid"] == 101.5
    assert ev.data["best_ask"] == 102.0
    assert ev.data["ask_levels"] == 1


def test_ask_crossing_bids_drops_the_crossed_bids_including_equal() -> None:
    n = Normalizer(on_problem=_fail)
    n.snapshot(OB, "BTC-USD", book_snapshot(), 1.0, 0)
    [ev] = n.update(OB, "BTC-USD", {"asks": [["98", "1"]]}, 2.0, 0)
    assert ev.data["best_ask"] == 98.0
    assert ev.data["best_bid"] is None
    assert ev.data["mid"] is None
    assert ev.data["spread"] is None
    assert ev.data["bid_levels"] == 0


def test_deleting_an_absent_level_and_one_sided_books() -> None:
    n = Normalizer(on_problem=_fail)
    [ev] = n.update(OB, "ETH-USD", {"bids": [["65920", "0"]]}, 1.0, 0)
    assert ev.data["best_bid"] is None
    assert ev.data["bid_levels"] == 0


def test_book_heap_stays_bounded_and_correct() -> None:
    book = Book("X")
    for i in range(5000):
        book.bid(float(i % 50), 1.0)
        book.bid(float(i % 50), 0.0)
    assert book.bids.best() is None
    assert len(book.bids.heap) < 200
    for price in (5.0, 7.0, 6.0):
        book.bid(price, 1.0)
    book.bid(7.0, 0.0)
    assert book.bids.best() == 6.0


def test_market_snapshot_and_updates() -> None:
    n = Normalizer(on_problem=_fail)
    markets = {
        "markets": {
            "BTC-USD": {
                "ticker": "BTC-USD",
                "status": "ACTIVE",
                "oraclePrice": "110",
                "priceChange24H": "10",
                "volume24H": "1000.5",
                "trades24H": 12,
                "nextFundingRate": "0.0001",
                "initialMarginFraction": "0.05",
                "maintenanceMarginFraction": "0.03",
                "openInterest": "7",
            },
            "NEW-USD": {"ticker": "NEW-USD", "status": "INITIALIZING", "oraclePrice": None},
        }
    }
    events = n.snapshot("v4_markets", None, markets, 1.0, 0)
    assert [e.data["ticker"] for e in events] == ["BTC-USD", "NEW-USD"]
    assert events[0].data == {
        "ticker": "BTC-USD",
        "oracle_price": 110.0,
        "status": "ACTIVE",
        "price_change_24h": 10.0,
        "price_change_24h_pct": 10.0,  # 10 / (110 - 10) x 100
        "volume_24h": 1000.5,
        "open_interest": 7.0,
        "next_funding_rate": 0.0001,
        "initial_margin_fraction": 0.05,
        "maintenance_margin_fraction": 0.03,
        "trades_24h": 12,
        "snapshot": True,
    }
    assert events[1].data["oracle_price"] is None
    assert events[1].data["price_change_24h_pct"] is None
    diff = {"trading": {"BTC-USD": {"id": "0", "openInterest": "8", "nextFundingRate": "-0.0002"}}}
    [ev] = n.update("v4_markets", None, diff, 2.0, 0)
    assert ev.data["open_interest"] == 8.0
    assert ev.data["next_funding_rate"] == -0.0002
    assert ev.data["oracle_price"] == 110.0
    assert ev.data["snapshot"] is False
    [ev] = n.update("v4_markets", None, {"oraclePrices": {"BTC-USD": {"oraclePrice": "120"}}}, 3, 0)
    assert ev.data["oracle_price"] == 120.0
    assert ev.data["price_change_24h_pct"] == pytest.approx(10 / 110 * 100)
    rest = n.rest_markets({"markets": {"BTC-USD": markets["markets"]["BTC-USD"]}}, 4.0)
    assert [(e.data["ticker"], e.conn) for e in rest] == [("BTC-USD", -1)]
    assert "NEW-USD" in n.markets.by_ticker  # REST may be filtered by ticker: kept
    n.snapshot("v4_markets", None, {"markets": {"BTC-USD": markets["markets"]["BTC-USD"]}}, 5, 0)
    assert "NEW-USD" not in n.markets.by_ticker  # a WS snapshot is a full reset


def test_trades_only_from_updates() -> None:
    n = Normalizer(on_problem=_fail)
    history = {"trades": [{"id": "1", "side": "BUY", "size": "1", "price": "2", "type": "LIMIT"}]}
    assert n.snapshot("v4_trades", "ETH-USD", history, 1.0, 0) == []
    trades = {
        "trades": [
            {"id": "a", "side": "SELL", "size": "0.5", "price": "2000", "type": "LIMIT"},
            {"id": "b", "side": "BUY", "size": "2", "price": "2001", "type": "LIQUIDATED"},
        ]
    }
    events = n.update("v4_trades", "ETH-USD", trades, 2.0, 1)
    assert [(e.kind, e.data["liquidation"], e.data["notional"]) for e in events] == [
        ("trade", False, 1000.0),
        ("trade", True, 4002.0),
    ]
    assert events[0].data["ticker"] == "ETH-USD"
    assert events[0].data["created_at"] is None


def test_candles_only_from_updates() -> None:
    n = Normalizer(on_problem=_fail)
    candle = {
        "startedAt": "2024-07-26T17:54:00.000Z",
        "ticker": "ETH-USD",
        "resolution": "1MIN",
        "low": "1",
        "high": "4",
        "open": "2",
        "close": "3",
        "baseTokenVolume": "5",
        "usdVolume": "6",
        "trades": 7,
        "startingOpenInterest": "8",
    }
    assert n.snapshot("v4_candles", "ETH-USD/1MIN", {"candles": [candle]}, 1.0, 0) == []
    [ev] = n.update("v4_candles", "ETH-USD/1MIN", candle, 2.0, 0)
    assert ev.data == {
        "ticker": "ETH-USD",
        "resolution": "1MIN",
        "started_at": "2024-07-26T17:54:00.000Z",
        "open": 2.0,
        "high": 4.0,
        "low": 1.0,
        "close": 3.0,
        "base_volume": 5.0,
        "usd_volume": 6.0,
        "trades": 7,
    }


def test_block_height_emitted_once_per_new_height() -> None:
    n = Normalizer(on_problem=_fail)
    [ev] = n.snapshot("v4_block_height", "v4_block_height", {"height": "10", "time": "t0"}, 1, 0)
    assert ev.data == {"height": 10, "time": "t0"}
    assert n.update("v4_block_height", None, {"blockHeight": "10", "time": "t0"}, 2, 1) == []
    assert len(n.update("v4_block_height", None, {"blockHeight": "11", "time": "t1"}, 2, 1)) == 1
    assert n.rest_height({"height": "11", "time": "t1"}, 3) == []
    [ev] = n.rest_height({"height": "12", "time": "t2"}, 3)
    assert ev.conn == -1
    assert ev.data["height"] == 12


def test_update_fast_path_matches_bid_ask_and_top_changed() -> None:
    """Book.update (the hot path) agrees with Book.bid/ask + top_changed + summary."""
    import random

    rng = random.Random(3)
    fast, slow = Normalizer(on_problem=_fail), Book("BTC-USD")
    fast.snapshot(OB, "BTC-USD", book_snapshot(), 1.0, 0)
    for level in book_snapshot()["bids"]:
        slow.bid(float(level["price"]), float(level["size"]))
    for level in book_snapshot()["asks"]:
        slow.ask(float(level["price"]), float(level["size"]))
    slow.top_changed()
    for step in range(3000):
        side = rng.choice(["bids", "asks"])
        price, size = rng.randint(90, 110), rng.choice([0, 0, 1, 2, 3])
        events = fast.update(OB, "BTC-USD", {side: [[str(price), str(size)]]}, 2.0, 0)
        (slow.bid if side == "bids" else slow.ask)(float(price), float(size))
        expected = [slow.summary()] if slow.top_changed() else []
        assert [e.data for e in events] == expected, step
