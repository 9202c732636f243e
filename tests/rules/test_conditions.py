"""Conditions: rate (count within), absence, change over a window, resolve_on, missing fields."""

from __future__ import annotations

import logging

from tests.rules.helpers import brief, engine, ev, run

STORM = "- {name: storm, on: connection.reconnect, count: 3, within: 2m}"


def test_count_within_fires_at_the_nth_event_and_resolves_when_the_window_drains():
    eng = engine(STORM)
    timeline = [(t, ev("connection.reconnect")) for t in (0, 50, 100)]
    notes = run(eng, timeline, 300)
    assert brief(notes) == [(100, "storm", "firing"), (120, "storm", "resolved")]
    assert notes[0].labels == {"conn": "0"}


def test_count_is_per_identity_and_ignores_slow_events():
    eng = engine(STORM)
    slow = [(t, ev("connection.reconnect")) for t in (0, 130, 260)]
    other = [(t, ev("connection.reconnect", conn=1)) for t in (0, 1)]
    assert run(eng, slow + other, 400) == []


def test_count_with_when_counts_only_matching_events():
    eng = engine("- {name: big, on: trade, when: notional > 10000, count: 2, within: 1m}")
    timeline = [(0, ev("trade", notional=5)), (1, ev("trade", notional=5)), (2, ev("trade"))]
    assert run(eng, timeline, 10) == []
    assert brief(run(eng, [(11, ev("trade"))], 12)) == [(11, "big", "firing")]


def test_absence_fires_and_resolves():
    eng = engine("- {name: dead, on: block, absent: 30s}")
    notes = run(eng, [(10, ev("block")), (100, ev("block"))], 150)
    assert brief(notes) == [
        (40, "dead", "firing"),
        (100, "dead", "resolved"),
        (130, "dead", "firing"),
    ]


def test_absence_of_a_kind_never_seen_starts_with_the_engine():
    eng = engine("- {name: dead, on: block, absent: 30s, title: 'quiet {{ alert.silent_for }}'}")
    notes = run(eng, [], 40)
    assert brief(notes) == [(30, "dead", "firing")]
    assert notes[0].title == "quiet 30s"


def test_absence_per_identity_uses_the_natural_key_without_occurrence_ids():
    eng = engine("- {name: quiet-market, on: trade, absent: 1m}")
    timeline = [(0, ev("trade", id="a")), (1, ev("trade", id="b", ticker="ETH-USD"))]
    timeline += [(30, ev("trade", id="c"))]
    notes = run(eng, timeline, 70)
    assert [(n.at, n.labels) for n in notes] == [(61, {"ticker": "ETH-USD"})]


CHANGE = """
- name: drop
  on: account
  change: {of: equity, within: 1h, by_pct: "<= -10"}
  title: "down {{ alert.change | round(1) }}% from {{ alert.reference }}"
"""


def test_change_fires_on_a_fall_from_the_windows_high():
    eng = engine(CHANGE)
    timeline = [(0, ev("account", equity=1000)), (60, ev("account", equity=1200))]
    timeline += [(120, ev("account", equity=1100)), (180, ev("account", equity=1070))]
    notes = run(eng, timeline, 200)
    assert brief(notes) == [(180, "drop", "firing")]
    assert notes[0].title == "down -10.8% from 1200.0"


def test_change_resolves_when_the_high_leaves_the_window():
    eng = engine(CHANGE.replace("1h", "5m"))
    timeline = [(0, ev("account", equity=1000)), (10, ev("account", equity=800))]
    notes = run(eng, timeline, 400, step=10)
    assert brief(notes) == [(10, "drop", "firing"), (300, "drop", "resolved")]


def test_change_by_absolute_amount_rising():
    eng = engine("- {name: up, on: market, change: {of: oracle_price, within: 1m, by: '>= 500'}}")
    timeline = [(0, ev("market", oracle_price=60000)), (30, ev("market", oracle_price=60600))]
    assert brief(run(eng, timeline, 40)) == [(30, "up", "firing")]


def test_resolve_on_another_kind_with_the_same_labels():
    eng = engine("- {name: lost, on: connection.lost, resolve_on: connection.connected}")
    timeline = [(0, ev("connection.lost")), (5, ev("connection.connected", conn=1))]
    timeline += [(9, ev("connection.connected"))]
    assert brief(run(eng, timeline, 10)) == [(0, "lost", "firing"), (9, "lost", "resolved")]


def test_missing_field_makes_the_condition_false_counted_and_logged_once(caplog):
    eng = engine("- {name: low, on: account, when: equity < 1000}")
    broken = ev("account")
    del broken.data["equity"]
    with caplog.at_level(logging.WARNING, logger="alertbot.rules.runtime"):
        notes = run(eng, [(t, broken) for t in range(5)], 5)
    assert notes == []
    assert eng.stats["low"].missing_field == 5
    assert len([r for r in caplog.records if "equity" in r.getMessage()]) == 1


def test_a_type_error_in_an_expression_is_an_error_not_an_exception():
    eng = engine("- {name: low, on: account, when: equity < 1000}")
    assert run(eng, [(0, ev("account", equity="lots"))], 1) == []
    assert eng.stats["low"].errors == 1


def test_glob_on_and_stats():
    eng = engine("- {name: orders, on: 'order.*', when: size > 1}")
    run(eng, [(0, ev("order.opened", size=2)), (1, ev("order.canceled")), (2, ev("fill"))], 2)
    stats = eng.stats["orders"]
    assert (stats.events, stats.matched, stats.notifications) == (2, 1, 1)


def test_change_keeps_samples_only_of_events_its_filter_passes():
    eng = engine("""
        - name: btc-drop
          on: market
          when: ticker == 'BTC-USD' and open_interest > 100
          change: {of: oracle_price, within: 1h, by_pct: "<= -10"}
    """)
    timeline = [(0, ev("market", ticker="ETH-USD", oracle_price=3000))]  # another ticker
    timeline += [(1, ev("market", oracle_price=70000, open_interest=5))]  # filtered out
    timeline += [(2, ev("market", oracle_price=60000)), (3, ev("market", oracle_price=59000))]
    assert run(eng, timeline, 4) == []  # 70000 was never a sample: -1.7 %, not -15.7 %
    rule = eng.by_name["btc-drop"]
    assert list(rule.windows) == [("BTC-USD",)]  # type: ignore[attr-defined]
    assert [v for _, v in rule.windows[("BTC-USD",)].highs] == [60000.0, 59000.0]  # type: ignore[attr-defined]


def test_change_alert_stops_holding_on_an_event_its_filter_rejects():
    eng = engine("""
        - name: drop
          on: market
          when: open_interest > 100
          change: {of: oracle_price, within: 1h, by_pct: "<= -10"}
    """)
    timeline = [(0, ev("market", oracle_price=1000)), (1, ev("market", oracle_price=800))]
    timeline += [(2, ev("market", oracle_price=800, open_interest=5))]
    assert brief(run(eng, timeline, 3)) == [(1, "drop", "firing"), (2, "drop", "resolved")]
