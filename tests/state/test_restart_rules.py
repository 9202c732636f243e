"""A restart sends nothing an uninterrupted run would not have sent (and misses nothing).

Each case plays one event timeline twice: (a) through one engine, (b) through an engine whose
changes are flushed to a SQLite store on every tick (as the app does), stopped at `stop_at`,
and replaced by a fresh engine restored from the reopened store. The notifications must match.
"""

from __future__ import annotations

from pathlib import Path

from alertbot.core.model import Event
from alertbot.rules import Engine
from alertbot.state.sqlite import SqliteStore
from tests.rules.helpers import engine, ev

Told = tuple[str, str, float, tuple[tuple[str, str], ...]]
CHANGE = '- {name: drop, on: account, change: {of: equity, within: 10m, by_pct: "<= -10"}}'
PENDING = "- {name: low, on: account, when: equity < 1000, for: 60s}"
STORM = "- {name: storm, on: connection.reconnect, count: 3, within: 2m}"
ABSENT = "- {name: quiet, on: block, absent: 30s}"


def play(
    rules: str,
    timeline: list[tuple[float, Event]],
    until: float,
    state_dir: Path | None = None,
    stop_at: float | None = None,
) -> list[Told]:
    """(rule, status, at, labels) of every notification; restart at `stop_at` if given."""
    eng, store = engine(rules), None
    if state_dir is not None:
        store = SqliteStore.open(state_dir)
    out: list[Told] = []
    pending = sorted(timeline, key=lambda pair: pair[0])
    t = 0.0
    while t <= until:
        if store is not None and stop_at is not None and t == stop_at:
            eng, store = _restart(eng, store, rules, state_dir)
        while pending and pending[0][0] <= t:
            at, event = pending.pop(0)
            out += [_told(n) for n in eng.process(event, at)]
        out += [_told(n) for n in eng.tick(t)]
        if store is not None:
            store.save(eng.drain_state(), t)
        t += 1.0
    if store is not None:
        store.close()
    return out


def _restart(eng: Engine, store: SqliteStore, rules: str, state_dir: Path | None):
    """Shutdown (final flush, close) and a fresh process (reopen, new engine, restore)."""
    store.save(eng.drain_state(), 0.0)
    store.close()
    assert state_dir is not None
    store = SqliteStore.open(state_dir)
    fresh = engine(rules)
    fresh.restore(store.rules.load())
    return fresh, store


def _told(note) -> Told:
    return (note.rule, note.status, note.at, tuple(sorted(note.labels.items())))


def _both(tmp_path, rules, timeline, until, stop_at) -> tuple[list[Told], list[Told]]:
    whole = play(rules, timeline, until)
    restarted = play(rules, timeline, until, tmp_path / "state", stop_at)
    return whole, restarted


def test_a_firing_change_alert_is_not_falsely_resolved_by_a_restart(tmp_path):
    timeline = [(0, ev("account", equity=1000.0)), (10, ev("account", equity=850.0)),
                (100, ev("account", equity=860.0)), (200, ev("account", equity=855.0)),
                (700, ev("account", equity=860.0))]  # fmt: skip
    whole, restarted = _both(tmp_path, CHANGE, timeline, 800, stop_at=50)
    assert [(r, s, at) for r, s, at, _ in whole] == [
        ("drop", "firing", 10),
        ("drop", "resolved", 600),
    ]
    assert restarted == whole


def test_a_change_that_spans_the_restart_still_fires(tmp_path):
    timeline = [(0, ev("account", equity=1000.0)), (100, ev("account", equity=950.0)),
                (300, ev("account", equity=880.0))]  # fmt: skip
    whole, restarted = _both(tmp_path, CHANGE, timeline, 400, stop_at=200)
    assert [(r, s, at) for r, s, at, _ in whole] == [("drop", "firing", 300)]
    assert restarted == whole


def test_a_pending_for_timer_fires_on_time_after_a_restart(tmp_path):
    timeline = [(0, ev("account", equity=900)), (30, ev("account", equity=900)),
                (120, ev("account", equity=2000))]  # fmt: skip
    whole, restarted = _both(tmp_path, PENDING, timeline, 130, stop_at=40)
    assert [(r, s, at) for r, s, at, _ in whole] == [
        ("low", "firing", 60),
        ("low", "resolved", 120),
    ]
    assert restarted == whole


def test_a_count_window_spans_the_restart(tmp_path):
    timeline = [(0, ev("connection.reconnect")), (10, ev("connection.reconnect")),
                (30, ev("connection.reconnect")), (200, ev("connection.reconnect"))]  # fmt: skip
    whole, restarted = _both(tmp_path, STORM, timeline, 260, stop_at=20)
    assert [(r, s, at) for r, s, at, _ in whole] == [
        ("storm", "firing", 30),
        ("storm", "resolved", 120),
    ]
    assert restarted == whole


def test_an_absence_timer_spans_the_restart(tmp_path):
    timeline = [(5, ev("block", height=1)), (60, ev("block", height=2))]
    whole, restarted = _both(tmp_path, ABSENT, timeline, 70, stop_at=20)
    assert [(r, s, at) for r, s, at, _ in whole] == [
        ("quiet", "firing", 35),
        ("quiet", "resolved", 60),
    ]
    assert restarted == whole


def test_seen_fills_are_not_told_again_after_a_restart(tmp_path):
    fill = ev("fill", id="f1")
    timeline = [(0, fill), (50, ev("fill", id="f1")), (60, ev("fill", id="f2"))]
    whole, restarted = _both(tmp_path, "- {name: filled, on: fill}", timeline, 70, stop_at=20)
    assert [(r, s, at) for r, s, at, _ in whole] == [
        ("filled", "firing", 0),
        ("filled", "firing", 60),
    ]
    assert restarted == whole


def test_the_repeat_schedule_survives_a_restart(tmp_path):
    rules = "- {name: low, on: account, when: equity < 1000, repeat: 60s}"
    timeline = [(0, ev("account", equity=900)), (150, ev("account", equity=2000))]
    whole, restarted = _both(tmp_path, rules, timeline, 160, stop_at=30)
    assert [(s, at) for _, s, at, _ in whole] == [
        ("firing", 0),
        ("firing", 60),
        ("firing", 120),
        ("resolved", 150),
    ]
    assert restarted == whole


def test_a_hot_reload_carries_changes_not_yet_drained(tmp_path):
    """take_over: the old engine's undrained changes reach the store through the new engine."""
    old = engine(PENDING)
    old.process(ev("account", equity=900), 0.0)
    store = SqliteStore.open(tmp_path)
    store.save(old.drain_state(), 0.0)  # pending saved
    old.process(ev("account", equity=2000), 10.0)  # back to inactive: not drained yet
    new = engine(PENDING + "\n" + STORM)
    new.take_over(old)
    store.save(new.drain_state(), 10.0)
    assert store.rules.load() == []  # the forget reached the store
    assert [c.state for c in store.history.recent()] == ["inactive", "pending"]
    store.close()
