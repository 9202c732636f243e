"""A hostile server's flood of distinct bad frames: memory and log volume stay bounded."""

from __future__ import annotations

import logging
import time

import orjson

from alertbot.source.book import MAX_LEVELS
from alertbot.source.feed import MAX_SUBS, Feed
from alertbot.source.markets import MAX_MARKETS
from alertbot.source.normalize import Normalizer
from alertbot.source.orders import FINAL_KEYS, Orders
from alertbot.source.problems import LOG_BUDGET, LOG_WINDOW, MAX_REASONS, OTHER, ProblemLog
from alertbot.source.subscriptions import Subscription


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_12000_frames_with_unique_10kb_types_stay_bounded(caplog):
    clock = Clock()
    problems = ProblemLog(clock=clock)
    feed = Feed(Normalizer(on_problem=problems), problems=problems)
    feed.receive(0, b'{"type":"connected","connection_id":"c","message_id":0}', 0)
    caplog.set_level(logging.WARNING, logger="alertbot.source")
    started = time.perf_counter()
    for i in range(12_000):
        unique = f"{i:06d}" + "x" * 10_000  # a new 10 KB type every frame
        raw = orjson.dumps({"type": unique, "message_id": i + 1})
        assert feed.receive(0, raw, float(i)) == []
        clock.t = i * 0.005  # 60 s of flood
    took = time.perf_counter() - started
    assert problems.total == 12_000  # every frame counted
    assert len(problems.counts) <= MAX_REASONS  # memory keyed by server data is bounded
    assert problems.counts[OTHER] == 12_000 - (MAX_REASONS - 1)
    assert all(len(reason) <= 120 for reason in problems.counts)
    logged = "".join(r.getMessage() for r in caplog.records)
    assert len(caplog.records) <= LOG_BUDGET * (60 / LOG_WINDOW + 1) + 1
    assert len(logged) < 20_000  # was 332 MB of logs in 60 s
    assert took < 10  # no quadratic work per frame


def test_held_back_lines_are_counted_and_reported_once_the_minute_turns(caplog):
    clock = Clock()
    problems = ProblemLog(clock=clock)
    caplog.set_level(logging.WARNING, logger="alertbot.source")
    for i in range(LOG_BUDGET + 5):
        problems(f"reason {i}")
    assert len(caplog.records) == LOG_BUDGET
    assert problems.suppressed == 5
    clock.t = LOG_WINDOW
    problems("one more")
    said = [r.getMessage() for r in caplog.records]
    assert said[LOG_BUDGET] == (
        "5 more kinds of bad frames in the last 60s were not logged "
        "(counted in alertbot_skipped_frames_total)"
    )
    assert said[-1].startswith("skipped one more")


def connected_feed(*subs) -> Feed:
    problems = ProblemLog()
    feed = Feed(Normalizer(on_problem=problems), problems=problems)
    for sub in subs:
        feed.assign(0, sub)
    feed.receive(0, b'{"type":"connected","connection_id":"c","message_id":0}', 0)
    for action in feed.actions:
        feed.sent(0, action.sub)
    feed.actions.clear()
    return feed


def test_a_flood_of_invented_markets_stops_at_the_bound():
    feed = connected_feed(Subscription("v4_markets", None))
    markets = {f"X{i}-USD": {"oraclePrice": "1.5"} for i in range(MAX_MARKETS + 500)}
    contents = {"markets": {}}
    feed.receive(0, orjson.dumps({"type": "subscribed", "channel": "v4_markets",
                                  "message_id": 1, "contents": contents}), 1)  # fmt: skip
    update = {"type": "channel_data", "channel": "v4_markets", "message_id": 2,
              "contents": {"oraclePrices": markets}}  # fmt: skip
    events = feed.receive(0, orjson.dumps(update), 2)
    assert len(events) == MAX_MARKETS
    assert feed.normalizer.sizes()["markets"] == MAX_MARKETS
    assert feed.problems.total == 500  # every refused one counted


def test_a_book_side_holds_at_most_max_levels():
    feed = connected_feed(Subscription("v4_orderbook", "BTC-USD"))
    snapshot = {"type": "subscribed", "channel": "v4_orderbook", "id": "BTC-USD",
                "message_id": 1, "contents": {"bids": [], "asks": []}}  # fmt: skip
    feed.receive(0, orjson.dumps(snapshot), 1)
    levels = [[str(1000 + i), "1"] for i in range(MAX_LEVELS + 10)]
    update = {"type": "channel_data", "channel": "v4_orderbook", "id": "BTC-USD",
              "message_id": 2, "contents": {"asks": levels}}  # fmt: skip
    feed.receive(0, orjson.dumps(update), 2)
    assert feed.normalizer.sizes()["book_levels"] == MAX_LEVELS
    assert feed.problems.total == 10


def test_subscriptions_a_server_invents_stop_at_the_bound():
    feed = connected_feed()
    for i in range(MAX_SUBS + 20):
        frame = {"type": "subscribed", "channel": "v4_trades", "id": f"T{i}-USD",
                 "message_id": i + 1, "contents": {"trades": []}}  # fmt: skip
        feed.receive(0, orjson.dumps(frame), 1)
    assert feed.sizes()["subscriptions"] == MAX_SUBS
    assert feed.problems.total == 20


def test_a_final_order_keeps_only_what_later_messages_are_checked_against():
    orders = Orders()
    item = {"id": "o1", "clientId": "1", "ticker": "BTC-USD", "side": "BUY", "size": "1",
            "totalFilled": "0", "price": "60000", "type": "LIMIT", "status": "OPEN"}  # fmt: skip
    orders.apply(item, "dydx1a", 0)
    assert len(orders.by_id["o1"].fields) > len(FINAL_KEYS)
    changes = orders.apply({**item, "status": "FILLED", "totalFilled": "1"}, "dydx1a", 0)
    assert [kind for kind, _ in changes] == ["order.filled"]
    assert changes[0][1]["price"] == 60000  # the event still has every field
    assert set(orders.by_id["o1"].fields) == set(FINAL_KEYS)
    assert orders.apply({**item, "status": "FILLED", "totalFilled": "1"}, "dydx1a", 0) == []
    assert orders.tracked("dydx1a", 0) == []
