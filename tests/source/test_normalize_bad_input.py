"""Bad data is counted and reported through on_problem, never raised; good items still count."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alertbot.source.normalize import Normalizer
from alertbot.source.numbers import BadValue, height, num
from tests.source.riskkinds import without_risk

ADDR = "dydx1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
SUB_ID = f"{ADDR}/0"
CH = "v4_subaccounts"
CHANNELS = [
    "v4_subaccounts",
    "v4_parent_subaccounts",
    "v4_markets",
    "v4_orderbook",
    "v4_trades",
    "v4_candles",
    "v4_block_height",
]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def __call__(self, reason: str, raw: Any) -> None:
        self.calls.append((reason, raw))


def make() -> tuple[Normalizer, Recorder]:
    rec = Recorder()
    return Normalizer(on_problem=rec), rec


def fill(fid: str, **kw: Any) -> dict:
    item = {"id": fid, "side": "BUY", "type": "LIMIT", "size": "1", "price": "2", "ticker": "X"}
    item.update(kw)
    return item


@pytest.mark.parametrize("text", ["1000.5", "-0.25", "0", "1e-7", 3, 2.5])
def test_num_accepts_numbers(text) -> None:
    assert num(text) == float(text)


@pytest.mark.parametrize("bad", ["abc", "", "nan", "inf", "-Infinity", None, True, [], {}])
def test_num_refuses_non_numbers(bad) -> None:
    with pytest.raises(BadValue):
        num(bad)


@pytest.mark.parametrize("bad", ["1.5", "x", None, 1.0, True])
def test_height_refuses_non_integers(bad) -> None:
    with pytest.raises(BadValue):
        height(bad)


def test_bad_fills_are_skipped_and_the_rest_kept() -> None:
    n, rec = make()
    items = [
        fill("ok1"),
        fill("bad", size="abc"),
        {"id": "nofields"},
        "not an object",
        fill("nan", price="nan"),
        fill("ok2"),
    ]
    events = n.update(CH, SUB_ID, {"fills": items}, 1.0, 0)
    assert [e.data["id"] for e in events] == ["ok1", "ok2"]
    assert n.problems == 4
    assert len(rec.calls) == 4
    reasons = [r for r, _ in rec.calls]
    assert reasons[0] == "fill: non-numeric value"
    assert rec.calls[0][1]["id"] == "bad"
    assert reasons[1].startswith("fill: missing field")
    assert reasons[2] == "fill: wrong type"


def test_bad_orders_positions_and_assets() -> None:
    n, _ = make()
    contents = {
        "orders": [
            {"id": "o", "status": "WEIRD"},
            {"status": "OPEN"},
            {"id": 5, "status": "OPEN"},
            {"id": "o2", "status": "OPEN", "postOnly": "yes"},
            {"id": "fine", "status": "OPEN", "size": "1", "ticker": "X"},
        ],
        "perpetualPositions": [
            {"market": "X", "side": "LONG", "status": "OPEN", "size": "lots"},
            {"market": "Y", "side": "LONG", "status": "OPEN", "size": "1", "entryPrice": "2"},
        ],
        "assetPositions": [{"symbol": "USDC", "side": "SIDEWAYS", "size": "1"}],
    }
    events = n.update(CH, SUB_ID, contents, 1.0, 0)
    assert [e.kind for e in without_risk(events)] == ["order.opened", "position.opened", "account"]
    assert n.problems == 6


@pytest.mark.parametrize(
    ("channel", "sub_id", "contents"),
    [
        (CH, SUB_ID, ["a list"]),
        (CH, None, {"orders": []}),
        (CH, "no-slash", {"orders": []}),
        (CH, f"{ADDR}/x", {"orders": []}),
        ("v4_markets", None, None),
        ("v4_markets", None, {"oraclePrices": ["x"]}),
        ("v4_orderbook", None, {"bids": []}),
        ("v4_orderbook", "BTC-USD", 7),
        ("v4_trades", "BTC-USD", {"nope": []}),
        ("v4_candles", "BTC-USD/1MIN", {"open": "1"}),
        ("v4_block_height", None, {"blockHeight": "twelve"}),
        ("v4_block_height", None, {}),
        ("v4_orders", "x", {}),
    ],
)
def test_malformed_messages_are_problems(channel, sub_id, contents) -> None:
    n, rec = make()
    assert n.update(channel, sub_id, contents, 1.0, 0) == []
    assert n.problems >= 1
    assert rec.calls


def test_unknown_channel_snapshot() -> None:
    n, rec = make()
    assert n.snapshot("v4_nothing", None, {}, 1.0, 0) == []
    assert rec.calls == [("snapshot of an unknown channel", "v4_nothing")]


def test_bad_levels_and_prices_skip_only_themselves() -> None:
    n, _ = make()
    [ev] = n.update(
        "v4_orderbook", "X", {"bids": [["abc", "1"], ["1"], {"p": 1}, ["5", "2"]]}, 1.0, 0
    )
    assert ev.data["best_bid"] == 5.0
    assert n.problems == 3
    prices = {"oraclePrices": {"A": {"oraclePrice": "x"}, "B": {}, "C": {"oraclePrice": "3"}}}
    events = n.update("v4_markets", None, prices, 1.0, 0)
    assert [e.data["ticker"] for e in events] == ["C"]
    assert n.problems == 5
    trading = {"trading": {"A": {"openInterest": "many"}, "B": {"openInterest": "4"}}}
    events = n.update("v4_markets", None, trading, 1.0, 0)
    assert [e.data["ticker"] for e in events] == ["B"]
    assert n.problems == 6


def test_bad_rest_bodies() -> None:
    n, _ = make()
    assert n.rest_orders(ADDR, 0, {"not": "a list"}, 1.0) == []
    assert n.rest_fills(ADDR, 0, [], 1.0) == []
    assert n.rest_subaccount(ADDR, 0, {}, 1.0) == []
    assert n.rest_parent_subaccount(ADDR, 0, None, 1.0) == []
    assert n.rest_markets({"markets": "x"}, 1.0) == []
    assert n.rest_height("x", 1.0) == []
    assert n.rest_order(None, 1.0) == []
    assert n.problems == 7


def test_bad_subaccount_equity_still_emits_a_computed_account() -> None:
    n, rec = make()
    sub = {"address": ADDR, "subaccountNumber": 0, "equity": "lots", "assetPositions": {}}
    events = n.snapshot(CH, SUB_ID, {"subaccount": sub}, 1.0, 0)
    assert [e.kind for e in without_risk(events)] == ["account"]
    assert events[0].data["equity"] == 0.0
    assert rec.calls[0][0] == "subaccount equity: non-numeric value"


def test_no_callback_still_counts() -> None:
    n = Normalizer()
    n.update(CH, SUB_ID, {"fills": [fill("x", size="?")]}, 1.0, 0)
    assert n.problems == 1


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6) | st.sampled_from(["1", "0"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
KEYS = st.sampled_from(
    [
        "orders",
        "fills",
        "perpetualPositions",
        "assetPositions",
        "transfers",
        "bids",
        "asks",
        "trades",
        "trading",
        "oraclePrices",
        "markets",
        "subaccount",
        "height",
        "blockHeight",
    ]
)
CONTENTS = st.dictionaries(KEYS, JSONISH, max_size=4) | JSONISH


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.sampled_from(CHANNELS), st.booleans(), CONTENTS)
def test_property_garbage_never_raises(channel, snapshot, contents) -> None:
    n = Normalizer(on_problem=lambda reason, raw: None)
    sub_id = {"v4_markets": None, "v4_candles": "X/1MIN"}.get(channel, SUB_ID)
    if channel in ("v4_orderbook", "v4_trades"):
        sub_id = "X"
    call = n.snapshot if snapshot else n.update
    events = call(channel, sub_id, contents, 1.0, 0)
    assert isinstance(events, list)
    for rest in (n.rest_orders, n.rest_fills, n.rest_subaccount, n.rest_parent_subaccount):
        assert isinstance(rest(ADDR, 0, contents, 1.0), list)
    assert isinstance(n.rest_markets(contents, 1.0), list)
    assert isinstance(n.rest_order(contents, 1.0), list)


def test_non_finite_and_non_string_levels_are_refused_like_num() -> None:
    n, rec = make()
    levels = [["nan", "1"], ["5", "inf"], [True, "1"], ["4", None], [6, 1.5], ["3", "1"]]
    [ev] = n.update("v4_orderbook", "X", {"bids": levels}, 1.0, 0)
    assert (ev.data["best_bid"], ev.data["bid_size"], ev.data["bid_levels"]) == (6.0, 1.5, 2)
    assert [reason for reason, _ in rec.calls] == [
        "orderbook level: non-numeric value",
        "orderbook level: non-numeric value",
        "orderbook level: non-numeric value",
        "orderbook level: non-numeric value",
    ]
