"""A resolve that comes due while its alert is muted (silenced or inhibited) is never lost.

Default (`muted_resolve: hold`): told when the silence or the inhibition ends. `send`: told at
once, through the mute. `drop`: Alertmanager's behaviour, not told (logged, and forgotten).
"""

from __future__ import annotations

import logging

from alertbot.rules import SilenceStore
from alertbot.state.sqlite import SqliteStore
from tests.rules.helpers import brief, engine, ev, run

LOW = "- {{name: low, on: account, when: equity < 1000{extra}}}"
FIRE, RESOLVE = ev("account", equity=900), ev("account", equity=2000)


def silenced(policy: str = "") -> tuple[SilenceStore, list[tuple[float, str, str]]]:
    """Fires at 0 (told), silenced from 2 to 62, resolves at 5."""
    store = SilenceStore()
    eng = engine(LOW.format(extra=f", muted_resolve: {policy}" if policy else ""), silences=store)
    notes = run(eng, [(0, FIRE)], 1)
    store.add("low", {}, 60, now=2)
    notes += run(eng, [(5, RESOLVE)], 100)
    return store, brief(notes)


def test_a_resolve_during_a_silence_is_told_when_the_silence_ends(caplog):
    caplog.set_level(logging.INFO, "alertbot.rules")
    _, told = silenced()
    assert told == [(0, "low", "firing"), (62, "low", "resolved")]
    assert sum("held until the mute ends" in r.getMessage() for r in caplog.records) == 1


def test_muted_resolve_send_goes_through_the_silence_at_once():
    _, told = silenced("send")
    assert told == [(0, "low", "firing"), (5, "low", "resolved")]


def test_muted_resolve_drop_is_alertmanagers_behaviour_and_is_logged(caplog):
    caplog.set_level(logging.INFO, "alertbot.rules")
    _, told = silenced("drop")
    assert told == [(0, "low", "firing")]
    assert sum("dropped" in r.getMessage() for r in caplog.records) == 1


INHIBIT = """
- {name: lost, on: connection.lost, resolve_on: connection.connected}
- {name: low, on: account, when: equity < 1000}
"""


def test_a_resolve_during_an_inhibition_is_told_when_the_inhibition_ends():
    eng = engine(INHIBIT)
    timeline = [(0, FIRE), (3, ev("connection.lost")), (5, RESOLVE)]
    timeline += [(30, ev("connection.connected"))]
    notes = run(eng, timeline, 40)
    assert [(n.at, n.rule, n.status) for n in notes] == [
        (0, "low", "firing"),
        (3, "lost", "firing"),  # inhibits low (same conn) from here
        (30, "lost", "resolved"),
        (30, "low", "resolved"),  # held at 5, told when the inhibition ended
    ]
    assert eng.active_alerts() == []


def test_a_held_resolve_survives_a_restart(tmp_path):
    store = SilenceStore()
    eng = engine(LOW.format(extra=""), silences=store)
    notes = run(eng, [(0, FIRE)], 1)
    store.add("low", {}, 60, now=2)
    notes += run(eng, [(5, RESOLVE)], 10)
    state = SqliteStore.open(tmp_path)
    state.save(eng.drain_state(), 10)
    fresh = engine(LOW.format(extra=""), silences=store)
    fresh.restore(state.rules.load())
    state.close()
    step = [(t, n) for t in range(11, 101) for n in fresh.tick(float(t))]
    assert brief(notes) == [(0, "low", "firing")]
    assert [(t, n.status) for t, n in step] == [(62, "resolved")]


def test_a_rule_that_does_not_send_resolves_holds_nothing():
    store = SilenceStore()
    eng = engine(LOW.format(extra=", send_resolved: false"), silences=store)
    notes = run(eng, [(0, FIRE)], 1)
    store.add("low", {}, 60, now=2)
    notes += run(eng, [(5, RESOLVE)], 100)
    assert brief(notes) == [(0, "low", "firing")]  # and nothing after the silence ended
    rule = eng.by_name["low"]
    assert not any(rule.holds_resolve(alert) for alert in rule.alerts.values())


def test_a_resolve_held_longer_than_the_flap_window_is_not_forgotten():
    store = SilenceStore()
    eng = engine(LOW.format(extra=""), silences=store)
    notes = run(eng, [(0, FIRE)], 1)
    store.add("low", {}, 3600, now=2)  # an hour of maintenance; flips are kept for 10 minutes
    notes += run(eng, [(5, RESOLVE)], 3700, step=10)
    assert brief(notes) == [(0, "low", "firing"), (3610, "low", "resolved")]
