"""Every real Indexer capture in ../shared/dydx-captures parses into the right events, cleanly."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from alertbot.core.model import Event
from alertbot.source.normalize import Normalizer
from tests.source.riskkinds import without_risk

CAPTURES = Path(__file__).parents[3] / "shared" / "dydx-captures"
pytestmark = pytest.mark.captures

# WebSocket capture -> the kinds a fresh Normalizer emits for it.
WS_EXPECT: dict[str, list[str]] = {
    "nautilus__v4_accounts_balance.json": ["account"],
    "nautilus__v4_accounts_subscribed.json": ["account"],
    "nautilus__v4_accounts_subscribed_best_effort_canceled.json": ["account"],
    "nautilus__v4_accounts_subscribed_negative_initial_margin.json": ["account"],
    "nautilus__v4_accounts_channel_data_affiliate_rev_share.json": [
        "order.filled",
        "fill",
        "position.opened",
        "account",
    ],
    "nautilus__v4_accounts_channel_data_order.json": ["order.opened"],
    "nautilus__v4_accounts_channel_data_order_opened.json": ["order.opened"],
    "nautilus__v4_accounts_channel_data_order_best_effort_canceled.json": [
        "order.best_effort_canceled"
    ],
    "nautilus__v4_accounts_channel_data_order_canceled.json": ["order.canceled"],
    "nautilus__v4_accounts_channel_data_order_expired.json": ["order.canceled"],
    "nautilus__v4_accounts_channel_data_transfers.json": ["transfer"],
    "nautilus__v4_accounts_fills.json": [
        "order.filled",
        "fill",
        "fill",
        "position.opened",
        "account",
    ],
    "nautilus__v4_accounts_rewards.json": [],
    "nautilus__v4_markets_subscribed.json": ["market"] * 98,
    "nautilus__v4_markets_channel_data.json": ["market"],
    "nautilus__v4_markets_oracle_price.json": ["market"],
    "nautilus__v4_markets_trading_data.json": ["market"],
    "nautilus__v4_markets_cross.json": ["market"],
    "nautilus__v4_markets_channel_data_v8.json": ["market"],
    "nautilus__v4_orderbook_snapshot.json": ["orderbook"],
    "nautilus__v4_orderbook.json": ["orderbook"],
    # 41 single-level updates, 7 of which move the top of the book
    "nautilus__v4_orderbook_batched_data.json": ["orderbook"] * 7,
    "nautilus__v4_trades.json": ["trade"] * 2,
    "nautilus__trade_deleveraged.json": ["trade"] * 3,
    "nautilus__v4_candles.json": [],
    "nautilus__v4_candles_subscribed.json": [],
    "nautilus__v4_candles_channel_data.json": ["candle"],
    "nautilus__v4_block_height_subscribed.json": ["block"],
    "nautilus__v4_block_height_channel_data.json": ["block"],
}
# Envelope-only frames (the feed's business, no contents) and REST endpoints outside the interface.
NOT_NORMALIZED = {
    "nautilus__connected.json",
    "nautilus__error.json",
    "nautilus__unsubscribed.json",
    "nautilus__http_get_time.json",
    "nautilus__http_get_candles.json",
    "nautilus__http_get_trades.json",
    "nautilus__http_get_orderbook.json",
    "nautilus__http_get_historical_funding.json",
    "nautilus__list_perpetual_positions.json",
    "nautilus__asset_positions.json",
}
REST_MARKETS = {
    "nautilus__http_get_perpetual_markets.json": 3,
    "nautilus__list_perpetual_markets.json": 125,
    "nautilus__list_perpetual_markets_empty_oracle_price.json": 101,
    "nautilus__list_perpetual_markets_v8.json": 1,
}
REST_OTHER = {
    "ccxt__dydx.json",
    "nautilus__http_get_subaccount.json",
    "nautilus__subaccount.json",
    "nautilus__addresses.json",
    "nautilus__http_get_orders.json",
    "nautilus__orders.json",
    "nautilus__order.json",
    "nautilus__http_get_fills.json",
    "nautilus__fills.json",
    "nautilus__v4_fills.json",
    "nautilus__http_get_block_height.json",
}


def load(name: str) -> Any:
    if not CAPTURES.is_dir():
        pytest.skip(f"captures not present at {CAPTURES}")
    return json.loads((CAPTURES / name).read_text())


def body(name: str) -> Any:
    """The HTTP body: nautilus's Rust fixtures wrap it as {"requestId", ..., "result": body}."""
    data = load(name)
    if isinstance(data, dict) and "requestId" in data and "result" in data:
        return data["result"]
    return data


def ccxt(method: str) -> Any:
    return load("ccxt__dydx.json")["methods"][method][0]["httpResponse"]


def strict() -> Normalizer:
    def fail(reason: str, raw: Any) -> None:
        raise AssertionError(f"problem on a real capture: {reason}: {str(raw)[:300]}")

    return Normalizer(on_problem=fail)


def feed(n: Normalizer, msg: dict[str, Any], now: float = 1.0) -> list[Event]:
    """What the lead's feed does with one frame: snapshot, update, or each batch item."""
    channel, sub_id = msg["channel"], msg.get("id")
    if msg["type"] == "subscribed":
        return n.snapshot(channel, sub_id, msg["contents"], now, 0)
    child = msg.get("subaccountNumber")
    if msg["type"] == "channel_data":
        return n.update(channel, sub_id, msg["contents"], now, 0, child)
    assert msg["type"] == "channel_batch_data"
    out: list[Event] = []
    for item in msg["contents"]:
        out.extend(n.update(channel, sub_id, item, now, 0, child))
    return out


def test_every_capture_is_accounted_for() -> None:
    if not CAPTURES.is_dir():
        pytest.skip(f"captures not present at {CAPTURES}")
    present = {p.name for p in CAPTURES.glob("*.json")}
    known = set(WS_EXPECT) | NOT_NORMALIZED | set(REST_MARKETS) | REST_OTHER
    assert present == known


@pytest.mark.parametrize("name", sorted(WS_EXPECT))
def test_ws_capture_parses_cleanly(name: str) -> None:
    events = feed(strict(), load(name))
    assert [e.kind for e in without_risk(events)] == WS_EXPECT[name]
    for event in events:
        assert_no_numeric_strings(event.data)


def assert_no_numeric_strings(value: Any) -> None:
    """Numbers are float/int in events, never decimal strings (ids and times are not numbers)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in ("id", "client_id", "order_id", "tx_hash") and isinstance(item, str):
                assert not is_number(item), (key, item)
            assert_no_numeric_strings(item)
    elif isinstance(value, list):
        for item in value:
            assert_no_numeric_strings(item)


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_subscribed_account_values_and_equity_formula() -> None:
    n = strict()
    [event] = without_risk(feed(n, load("nautilus__v4_accounts_balance.json")))
    acct = event.data
    assert acct["address"] == "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"
    assert acct["equity"] == 326.241869692
    assert acct["free_collateral"] == 20.9475641534
    assert acct["usdc"] == -5742.811799
    assert acct["origin"] == "snapshot"
    sizes = {p["ticker"]: p["size"] for p in acct["positions"]}
    assert sizes == {"ETH-USD": -0.007, "BTC-USD": 0.1036}
    # All five orders are stale BEST_EFFORT_CANCELED ones (some from Nov 2023): silent, tracked.
    assert len(n.tracked_orders(acct["address"], 0)) == 5
    # Our equity formula, with the prices the Indexer implied, lands on its reported equity;
    # with v4_markets' margin fractions (0.05) it lands on its reported free collateral too.
    implied = {p["ticker"]: p["oracle_price"] for p in acct["positions"]}
    feed(n, load("nautilus__v4_markets_subscribed.json"))
    prices = {t: {"oraclePrice": repr(p)} for t, p in implied.items()}
    events = n.update("v4_markets", None, {"oraclePrices": prices}, 2.0, 0)
    [again] = [e.data for e in events if e.kind == "account"]
    assert again["equity"] == pytest.approx(326.241869692, abs=1e-6)
    assert again["free_collateral"] == pytest.approx(20.9475641534, abs=1e-6)
    assert again["initial_margin"] == pytest.approx(305.2943055, abs=1e-6)
    assert again["margin_usage"] == pytest.approx(305.2943055 / 326.241869692, abs=1e-6)


def test_edited_best_effort_snapshot_is_silent_then_reconnect_diffs() -> None:
    n = strict()
    msg = load("nautilus__v4_accounts_subscribed_best_effort_canceled.json")
    assert [e.kind for e in feed(n, msg)] == ["account"]
    assert [e.kind for e in feed(n, msg)] == ["account"]  # a reconnect with nothing new


def test_order_lifecycle_across_captures() -> None:
    n = strict()
    [opened] = feed(n, load("nautilus__v4_accounts_channel_data_order.json"))
    [canceled] = feed(n, load("nautilus__v4_accounts_channel_data_order_canceled.json"))
    assert opened.data["order_id"] == canceled.data["order_id"]
    assert opened.data["address"] == "dydx1kzsvkf2ghjqlysuffdkhcdctknl4rsvcx5hkm5"
    assert canceled.data["previous_status"] == "OPEN"
    assert canceled.data["removal_reason"] == "ORDER_REMOVAL_REASON_USER_CANCELED"
    [expired] = feed(n, load("nautilus__v4_accounts_channel_data_order_expired.json"))
    assert expired.data["removal_reason"] == "ORDER_REMOVAL_REASON_EXPIRED"
    assert expired.data["size"] is None  # a remove message for an order we never saw


def test_fills_capture_values() -> None:
    events = feed(strict(), load("nautilus__v4_accounts_fills.json"))
    fills = [e.data for e in events if e.kind == "fill"]
    assert [(f["type"], f["liquidated"], f["notional"]) for f in fills] == [
        ("LIMIT", False, 2.6201),
        ("LIMIT", False, 2.6247),
    ]
    assert fills[0]["height"] == 18794557
    assert fills[0]["fee"] == 0.001311
    position = next(e.data for e in events if e.kind == "position.opened")
    assert position["size"] == 0.005
    assert position["entry_price"] == 2955.62


def test_transfer_capture_values() -> None:
    [event] = feed(strict(), load("nautilus__v4_accounts_channel_data_transfers.json"))
    assert event.data["type"] == "WITHDRAWAL"
    assert event.data["size"] == 10.0
    assert event.data["id"].endswith(":WITHDRAWAL")
    assert event.data["height"] == 19079256


def test_orderbook_snapshot_then_batch() -> None:
    n = strict()
    [snap] = feed(n, load("nautilus__v4_orderbook_snapshot.json"))
    assert (snap.data["best_bid"], snap.data["best_ask"]) == (3393.2, 3393.5)
    assert (snap.data["bid_levels"], snap.data["ask_levels"]) == (100, 100)
    # The batch was recorded on another day (ETH ~2396): its asks cross our bids and win.
    events = feed(n, load("nautilus__v4_orderbook_batched_data.json"))
    tops = [
        (e.data["best_bid"], e.data["best_ask"], e.data["bid_size"], e.data["ask_size"])
        for e in events
    ]
    assert all(a != b for a, b in itertools.pairwise(tops))  # only top-of-book moves
    last = events[-1].data
    assert (last["best_bid"], last["bid_size"]) == (2396.3, 4.788)
    assert (last["best_ask"], last["ask_size"]) == (2396.9, 4.0)
    assert last["best_bid"] < last["best_ask"]
    book = n.books["ETH-USD"]
    assert (len(book.bids.levels), len(book.asks.levels)) == (14, 112)


def test_markets_and_trades_captures() -> None:
    n = strict()
    markets = {
        e.data["ticker"]: e.data for e in feed(n, load("nautilus__v4_markets_subscribed.json"))
    }
    assert markets["BTC-USD"]["oracle_price"] == 59655.70557
    assert markets["BTC-USD"]["snapshot"]
    [ftm] = feed(n, load("nautilus__v4_markets_cross.json"))
    assert ftm.data["status"] == "FINAL_SETTLEMENT"
    assert ftm.data["trades_24h"] == 2656
    [cro] = feed(n, load("nautilus__v4_markets_trading_data.json"))
    assert cro.data["ticker"] == "CRO-USD"
    assert cro.data["status"] == "ACTIVE"
    trades = feed(n, load("nautilus__trade_deleveraged.json"))
    assert [t.data["liquidation"] for t in trades] == [False, False, True]
    assert trades[2].data["price"] == pytest.approx(2340.7442700369913)


def test_candle_and_block_captures() -> None:
    n = strict()
    [candle] = feed(n, load("nautilus__v4_candles_channel_data.json"))
    assert candle.data["close"] == 3247.6
    assert candle.data["trades"] == 10
    [first] = feed(n, load("nautilus__v4_block_height_subscribed.json"))
    [second] = feed(n, load("nautilus__v4_block_height_channel_data.json"))
    assert (first.data["height"], second.data["height"]) == (26543048, 26543049)
    [rest] = n.rest_height(body("nautilus__http_get_block_height.json"), 3.0)
    assert rest.data == {"height": 66624132, "time": "2025-12-08T16:11:59.450Z"}


@pytest.mark.parametrize("name", sorted(REST_MARKETS))
def test_rest_markets_captures(name: str) -> None:
    events = strict().rest_markets(body(name), 1.0)
    assert len(events) == REST_MARKETS[name]
    assert all(e.conn == -1 for e in events)
    if name.endswith("empty_oracle_price.json"):
        initializing = [e.data for e in events if e.data["status"] == "INITIALIZING"]
        assert [m["oracle_price"] for m in initializing] == [None]


def test_ccxt_markets_and_balance() -> None:
    n = strict()
    [btc] = n.rest_markets(ccxt("fetchMarkets"), 1.0)
    assert btc.data["oracle_price"] == 118700.5426
    address = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"
    [acct] = n.rest_subaccount(address, 0, ccxt("fetchBalance"), 2.0)
    assert acct.data["equity"] == 161451.040416029
    assert acct.data["usdc"] == 0.0
    for sub in ccxt("fetchAccounts")["subaccounts"]:
        events = n.rest_subaccount(address, sub["subaccountNumber"], {"subaccount": sub}, 3.0)
        assert [e.kind for e in without_risk(events)] == [
            "position.opened",
            "account",
        ]  # not a first sight
        assert events[1].data["positions"][0]["size"] == -0.491


def test_rest_subaccount_captures() -> None:
    n = strict()
    [a] = n.rest_subaccount("x", 0, body("nautilus__http_get_subaccount.json"), 1.0)
    assert a.data["equity"] == 45.201296
    assert a.data["origin"] == "rest"
    assert a.conn == -1
    [b] = without_risk(n.rest_subaccount("y", 0, body("nautilus__subaccount.json"), 1.0))
    assert b.data["equity"] == 99.206819554
    assert b.data["positions"][0]["ticker"] == "ETH-USD"
    for sub in body("nautilus__addresses.json")["subaccounts"]:
        events = n.rest_subaccount("y", 0, {"subaccount": sub}, 2.0)
        assert [e.kind for e in without_risk(events)] == [
            "account"
        ]  # same positions: nothing changed


def test_rest_orders_and_order_captures() -> None:
    n = strict()
    assert n.rest_orders("a", 0, body("nautilus__http_get_orders.json"), 1.0) == []
    assert n.rest_orders("b", 0, body("nautilus__orders.json"), 1.0) == []
    assert n.rest_order(body("nautilus__order.json"), 2.0) == []  # already known FILLED
    address = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"
    assert n.rest_orders(address, 0, ccxt("fetchOpenOrders"), 3.0) == []
    [filled] = n.rest_orders(address, 0, ccxt("fetchOrders"), 4.0)
    assert filled.kind == "order.filled"
    assert filled.data["previous_status"] == "OPEN"
    one = ccxt("fetchOrder")
    n.rest_orders(address, 0, [{**one, "status": "OPEN"}], 5.0)
    [canceled] = n.rest_order(one, 6.0)
    assert canceled.kind == "order.canceled"
    assert canceled.data["subaccount"] == 0


def test_rest_fills_captures_respect_the_first_sight_height() -> None:
    n = strict()
    sub = body("nautilus__http_get_subaccount.json")
    heights = {"latestProcessedBlockHeight": "63045110", "updatedAtHeight": "63045110"}
    sub = {"subaccount": {**sub["subaccount"], **heights}}
    address = sub["subaccount"]["address"]
    n.rest_subaccount(address, 0, sub, 1.0)
    events = n.rest_fills(address, 0, body("nautilus__http_get_fills.json"), 2.0)
    assert [(e.data["id"], e.data["ticker"], e.data["height"]) for e in events] == [
        ("6450e369-1dc3-5229-8dc2-fb3b5d1cf2ab", "BTC-USD", 63049869)
    ]
    assert n.rest_fills(address, 0, body("nautilus__http_get_fills.json"), 3.0) == []
    for name in ("nautilus__fills.json", "nautilus__v4_fills.json"):
        assert n.rest_fills(name, 0, body(name), 4.0) == []  # no baseline yet: history


def test_all_ws_captures_in_one_normalizer() -> None:
    """Fed one after another (a long-running bot), still no problem and sane totals."""
    n = strict()
    kinds: Counter[str] = Counter()
    for name in sorted(WS_EXPECT):
        kinds.update(e.kind for e in feed(n, load(name)))
    assert kinds["orderbook"] == 9
    assert kinds["trade"] == 5
    assert n.problems == 0
