"""The sans-I/O feed: envelopes, connection events, gaps, silence and every server error text."""

from __future__ import annotations

import orjson
import pytest

from alertbot.source.connstate import ACTIVE, PENDING, REJECTED, WAITING
from alertbot.source.feed import Feed
from alertbot.source.normalize import Normalizer
from alertbot.source.problems import ProblemLog
from alertbot.source.subscriptions import Subscription

ADDR = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"
TRADES = Subscription("v4_trades", "BTC-USD")
MARKETS = Subscription("v4_markets", None)
ACCOUNT = Subscription("v4_subaccounts", f"{ADDR}/0")


class Wire:
    """Builds server frames with a per-connection message_id counter, like the Indexer."""

    def __init__(self) -> None:
        self.mid = 0

    def frame(self, type_: str, *, bump: bool = True, **fields) -> bytes:
        if bump:
            self.mid += 1
        return orjson.dumps(
            {"type": type_, "connection_id": "c1", "message_id": self.mid, **fields}
        )

    def connected(self) -> bytes:
        self.mid = 0
        return orjson.dumps({"type": "connected", "connection_id": "c1", "message_id": 0})


def trade(i: int) -> dict:
    return {
        "id": f"{i:024x}",
        "side": "BUY",
        "size": "0.5",
        "price": "65000.5",
        "type": "LIMIT",
        "createdAt": "2024-07-24T00:00:00.000Z",
    }


@pytest.fixture
def feed() -> Feed:
    f = Feed(Normalizer(), gap_timeout=30, silence_timeout=60, snapshot_retry=60)
    for sub in (TRADES, MARKETS, ACCOUNT):
        f.assign(0, sub)
    return f


def subscribe_all(feed: Feed, wire: Wire, now: float = 0.0) -> None:
    feed.receive(0, wire.connected(), now)
    for action in feed.actions:
        feed.sent(0, action.sub)
    feed.actions.clear()
    feed.receive(
        0, wire.frame("subscribed", channel="v4_trades", id="BTC-USD", contents={"trades": []}), now
    )


def kinds(events) -> list[str]:
    return [e.kind for e in events]


def test_connected_subscribes_everything_assigned(feed):
    events = feed.receive(0, Wire().connected(), 5.0)
    assert kinds(events) == ["connection.connected"]
    assert events[0].data == {"conn": 0, "attempt": 1, "connection_id": "c1"}
    assert sorted(a.sub.key for a in feed.actions) == sorted(
        s.key for s in (TRADES, MARKETS, ACCOUNT)
    )


def test_batched_and_unbatched_data_are_both_handled(feed):
    wire = Wire()
    subscribe_all(feed, wire)
    one = feed.receive(
        0,
        wire.frame(
            "channel_data", channel="v4_trades", id="BTC-USD", contents={"trades": [trade(1)]}
        ),
        1,
    )
    batch_contents = [{"trades": [trade(2)]}, {"trades": [trade(3), trade(4)]}]
    many = feed.receive(
        0,
        wire.frame(
            "channel_batch_data", channel="v4_trades", id="BTC-USD", contents=batch_contents
        ),
        2,
    )
    assert kinds(one) == ["trade"]
    assert [e.data["id"] for e in many] == [f"{i:024x}" for i in (2, 3, 4)]
    assert many[0].data["price"] == 65000.5
    assert feed.messages["v4_trades"] == 3


def test_update_before_its_snapshot_is_dropped_and_counted(feed):
    wire = Wire()
    feed.receive(0, wire.connected(), 0)
    events = feed.receive(
        0,
        wire.frame(
            "channel_data", channel="v4_trades", id="BTC-USD", contents={"trades": [trade(1)]}
        ),
        1,
    )
    assert events == []
    assert feed.problems.counts["update that arrived before its snapshot"] == 1


def test_loss_then_reconnect_reports_attempts_and_downtime(feed):
    wire = Wire()
    subscribe_all(feed, wire, now=100)
    lost = feed.closed(0, 160.0, 1006, "no close frame")
    assert kinds(lost) == ["connection.lost"]
    assert lost[0].data == {"conn": 0, "code": 1006, "reason": "no close frame", "uptime": 60.0}
    assert feed.closed(0, 161.0, None, "refused") == []  # still down: one loss, one event
    feed.attempt_failed(0)
    feed.attempt_failed(0)
    back = feed.receive(0, wire.connected(), 170.0)
    assert kinds(back) == ["connection.connected", "connection.reconnect"]
    assert back[1].data == {"conn": 0, "attempts": 3, "downtime": 10.0, "code": 1006}
    assert {a.kind for a in feed.actions} == {"subscribe", "reconcile"}


def test_second_connected_without_close_is_an_inferred_reconnect(feed):
    wire = Wire()
    subscribe_all(feed, wire, now=0)
    events = feed.receive(0, wire.connected(), 30)
    assert kinds(events) == ["connection.lost", "connection.connected", "connection.reconnect"]
    assert feed.conns[0].subs[TRADES.key].status == "wanted"


def test_late_subscribed_is_not_a_gap(feed):
    wire = Wire()
    feed.receive(0, wire.connected(), 0)
    feed.actions.clear()
    late_id = wire.mid + 1
    wire.mid += 1  # the subscribe's id is answered later
    feed.receive(0, wire.frame("subscribed", channel="v4_markets", contents={"markets": {}}), 1)
    feed.receive(
        0,
        orjson.dumps(
            {
                "type": "subscribed",
                "connection_id": "c1",
                "message_id": late_id,
                "channel": "v4_trades",
                "id": "BTC-USD",
                "contents": {"trades": []},
            }
        ),
        5,
    )
    assert feed.check(35) == []  # past the gap timeout, before the silence timeout
    assert feed.actions == []


def test_unfilled_gap_resyncs_after_timeout(feed):
    wire = Wire()
    subscribe_all(feed, wire, now=0)
    wire.mid += 2  # two messages lost in transit
    feed.receive(
        0,
        wire.frame(
            "channel_data", channel="v4_trades", id="BTC-USD", contents={"trades": [trade(1)]}
        ),
        10,
    )
    assert feed.check(39) == []
    events = [e for e in feed.check(40) if e.kind == "connection.gap"]
    assert events[0].data["missing"] == 2
    assert events[0].data["first_missing"] == wire.mid - 2
    assert [a.kind for a in feed.actions] == ["resync"]


def test_silence_reports_stale_once_and_reconnects(feed):
    wire = Wire()
    subscribe_all(feed, wire, now=0)
    assert feed.check(59) == []
    stale = feed.check(60)
    assert kinds(stale) == ["feed.stale"]
    assert stale[0].data == {"conn": 0, "silence": 60}
    assert [a.kind for a in feed.actions] == ["reconnect"]
    assert feed.check(120) == []  # reported once per silence


def error(wire: Wire, message: str, *, bump: bool = True, **fields) -> bytes:
    return wire.frame("error", bump=bump, message=message, **fields)


def pending(feed: Feed, wire: Wire) -> None:
    feed.receive(0, wire.connected(), 0)
    for action in feed.actions:
        feed.sent(0, action.sub)
    feed.actions.clear()


def test_snapshot_fetch_failure_retries_quickly_then_after_cooldown(feed):
    feed.silence_timeout = 1000
    wire = Wire()
    pending(feed, wire)
    text = "Internal error, could not fetch data for subscription: v4_trades."
    events = feed.receive(0, error(wire, text, channel="v4_trades", id="BTC-USD"), 10)
    assert events[0].kind == "subscription.error"
    assert events[0].data["action"] == "retry"
    assert feed.conns[0].subs[TRADES.key].status == WAITING
    feed.check(11.9)
    assert feed.actions == []
    feed.check(12.0)
    assert [(a.kind, a.sub) for a in feed.actions] == [("subscribe", TRADES)]
    feed.actions.clear()
    feed.sent(0, TRADES)
    feed.receive(0, error(wire, text, channel="v4_trades", id="BTC-USD"), 13)
    feed.check(72.9)
    assert feed.actions == []
    feed.check(73.0)
    assert len(feed.actions) == 1


def test_legacy_fetch_failure_without_channel_and_id(feed):
    wire = Wire()
    pending(feed, wire)
    text = "Internal error, could not fetch data for subscription: v4_trades."
    feed.receive(0, error(wire, text), 1)
    states = {k: s.status for k, s in feed.conns[0].subs.items()}
    assert states[TRADES.key] == WAITING
    assert states[MARKETS.key] == PENDING


def test_invalid_ticker_is_a_configuration_error_naming_the_subscription(feed):
    notes: list[str] = []
    feed.on_subscription_error = notes.append
    wire = Wire()
    pending(feed, wire)
    text = "Invalid subscription id for channel: (v4_trades-BTC-USD)"
    events = feed.receive(0, error(wire, text, bump=False), 1)
    assert events[0].data["action"] == "retry_later"  # new markets can be refused for minutes
    assert "v4_trades BTC-USD" in notes[0]
    account_text = f"Invalid subscription id for channel: (v4_subaccounts-{ADDR}/0)"
    events = feed.receive(0, error(wire, account_text, bump=False), 1)
    assert events[0].data["action"] == "rejected"
    assert feed.conns[0].subs[ACCOUNT.key].status == REJECTED


def test_cap_reached_moves_the_subscription(feed):
    wire = Wire()
    pending(feed, wire)
    text = "Per-connection subscription limit reached for v4_trades (limit=32)."
    events = feed.receive(0, error(wire, text), 1)
    assert events[0].data["action"] == "shard"
    assert [(a.kind, a.sub, a.reason) for a in feed.actions] == [("move", TRADES, "32")]


def test_rate_limit_and_invalid_message_errors_slow_down(feed):
    wire = Wire()
    pending(feed, wire)
    text = (
        "Too many subscribe attempts for channel v4_trades-BTC-USD. "
        "Please  reconnect and try again."
    )
    feed.receive(0, error(wire, text), 1)
    feed.receive(0, error(wire, "Too many invalid messages. Please reconnect and try again."), 1)
    assert [a.kind for a in feed.actions] == ["slow_down", "slow_down"]


def test_already_subscribed_counts_as_active(feed):
    wire = Wire()
    pending(feed, wire)
    text = "Invalid subscribe message: already subscribed (v4_trades-BTC-USD)"
    assert feed.receive(0, error(wire, text, channel="v4_trades", id="BTC-USD"), 1) == []
    assert feed.conns[0].subs[TRADES.key].status == ACTIVE


def test_compliance_block_and_unknown_errors_are_reported(feed):
    wire = Wire()
    pending(feed, wire)
    blocked = (
        "Because this address appears to be a resident of, a restricted region, "
        "this address has been blocked."
    )
    assert feed.receive(0, error(wire, blocked), 1)[0].data["action"] == "blocked"
    assert feed.receive(0, error(wire, "Internal error"), 1)[0].data["action"] == "logged"
    assert feed.receive(0, error(wire, "Invalid message type: foo", bump=False), 1) == []
    assert feed.problems.counts["server refused a message we sent (a bug in alertbot)"] == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "frame that is not JSON"),
        (b"[1, 2]", "frame that is not a JSON object"),
        (b'{"type": "pong"}', "message of unknown type 'pong'"),
        (
            b'{"type": "channel_data", "message_id": 1}',
            "message that could not be handled (ValueError)",
        ),
        (b'{"type":["x"]}', "message of unknown type [str]"),  # 14 bytes: used to kill the task
        (b'{"type":{"a":1}}', "message of unknown type {a: int}"),
        (
            b'{"type":"channel_data","channel":"v4_trades","id":["x"]}',
            "message that could not be handled (TypeError)",  # an unhashable id
        ),
    ],
)
def test_bad_frames_are_counted_and_skipped(raw, reason, caplog):
    problems = ProblemLog()
    feed = Feed(Normalizer(on_problem=problems), problems=problems)
    feed.receive(0, b'{"type":"connected","connection_id":"c","message_id":0}', 0)
    assert feed.receive(0, raw, 1) == []
    assert feed.receive(0, raw, 2) == []
    assert problems.counts[reason] == 2
    assert sum(reason in r.getMessage() for r in caplog.records) == 1  # logged once


def test_a_frame_is_logged_by_its_shape_not_its_content(caplog):
    problems = ProblemLog()
    feed = Feed(Normalizer(on_problem=problems), problems=problems)
    feed.receive(0, b'{"type":"connected","connection_id":"c","message_id":0}', 0)
    raw = b'{"type":"channel_data","channel":"v4_trades","id":["secret-id"],"contents":{"k":1}}'
    assert feed.receive(0, raw, 1) == []
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "{type: str, channel: str, id: [str], contents: {k: int}}" in text
    assert "secret-id" not in text


def test_block_height_is_echoed_with_its_channel_name_as_id(feed):
    feed.assign(0, Subscription("v4_block_height", None))
    wire = Wire()
    pending(feed, wire)
    snap = {"height": "100", "time": "2024-12-01T00:00:00.000Z"}
    feed.receive(
        0,
        wire.frame("subscribed", channel="v4_block_height", id="v4_block_height", contents=snap),
        1,
    )
    events = feed.receive(
        0,
        wire.frame(
            "channel_data",
            channel="v4_block_height",
            id="v4_block_height",
            contents={"blockHeight": "101", "time": "2024-12-01T00:00:01.000Z"},
        ),
        2,
    )
    assert [e.data["height"] for e in events if e.kind == "block"] == [101]


ACCOUNT_SNAPSHOT = {"subaccount": {"address": ADDR, "subaccountNumber": 0, "equity": "100"}}


def test_an_account_unwatched_on_a_live_socket_is_polled_then_reconciled(feed):
    """A refused account subscription is listed for polling; its late snapshot asks REST."""
    feed.silence_timeout = 1000
    wire = Wire()
    pending(feed, wire)
    text = "Internal error, could not fetch data for subscription: v4_subaccounts."
    feed.receive(0, error(wire, text, channel="v4_subaccounts", id=f"{ADDR}/0"), 10)
    feed.check(10.5)
    assert feed.lapsed_for(12.5) == {(0, ACCOUNT.key): 2.0}
    feed.actions.clear()
    feed.check(80)  # the retry
    feed.sent(0, ACCOUNT)
    feed.actions.clear()
    snapshot = wire.frame(
        "subscribed", channel="v4_subaccounts", id=f"{ADDR}/0", contents=ACCOUNT_SNAPSHOT
    )
    feed.receive(0, snapshot, 81)
    assert [(a.kind, a.sub, a.reason) for a in feed.actions] == [
        ("reconcile", ACCOUNT, "resubscribed")
    ]
    assert feed.lapsed_for(82) == {}


def test_a_socket_loss_hands_unwatched_accounts_to_the_reconnect(feed):
    """A dropped connection reconciles as a whole: no second, per-account round."""
    feed.silence_timeout = 1000
    wire = Wire()
    pending(feed, wire)
    feed.receive(
        0, error(wire, f"Invalid subscription id for channel: (v4_subaccounts-{ADDR}/0)"), 1
    )
    feed.check(2)
    assert (0, ACCOUNT.key) in feed.lapsed_for(3)
    feed.closed(0, 4, 1006, "gone")
    assert feed.lapsed_for(5) == {}  # a down socket is polled as such
    assert feed.conns[0].subs[ACCOUNT.key].lapsed_since is None
