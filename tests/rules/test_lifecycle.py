"""Lifecycle per identity: pending, firing, resolved; hysteresis, repeat, flapping."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.rules.helpers import ADDR, brief, engine, ev, run

EQUITY_LOW = """
- name: equity-low
  on: account
  when: equity < 1000
  for: 30s
  resolve_when: equity >= 1100
  title: "Equity low on {{ address }}/{{ subaccount }}"
  message: "Equity {{ equity | round(2) }} USDC"
"""


def test_pending_returns_to_inactive_as_soon_as_when_stops_holding():
    eng = engine(EQUITY_LOW)
    notes = run(eng, [(0, ev("account", equity=900)), (20, ev("account", equity=1200))], 120)
    assert notes == []
    assert eng.active_alerts() == []


def test_pending_fires_after_for_then_resolve_when_decides():
    eng = engine(EQUITY_LOW)
    timeline = [
        (0, ev("account", equity=900)),
        (40, ev("account", equity=1050)),  # `when` no longer holds, but resolve_when neither
        (70, ev("account", equity=1100)),
    ]
    notes = run(eng, timeline, 100)
    assert brief(notes) == [(30, "equity-low", "firing"), (70, "equity-low", "resolved")]
    firing, resolved = notes
    assert firing.title == f"Equity low on {ADDR}/0"
    assert firing.message == "Equity 900 USDC"
    assert firing.labels == {"address": ADDR, "subaccount": "0"}
    assert firing.severity == "warning"
    assert firing.notify == ("ops",)
    assert (firing.starts_at, firing.ends_at) == (30, None)
    assert (firing.event["kind"], firing.event["equity"]) == ("account", 900)
    assert resolved.status == "resolved"  # the words stay the rule's own: no prefix added
    assert resolved.title == firing.title
    assert resolved.message == "Equity 1100 USDC"
    assert resolved.ends_at - resolved.starts_at == 40
    assert resolved.fingerprint == firing.fingerprint
    assert resolved.ends_at == 70


def test_resolve_when_resolves_a_firing_alert_even_while_when_still_holds():
    # the event that keeps `when` true still reaches resolve_when (no shortcut for "unchanged")
    eng = engine("""
        - {name: wide, on: account, when: "equity < 1000", resolve_when: "equity < 10"}
    """)
    timeline = [(0, ev("account", equity=900)), (5, ev("account", equity=800)),
                (9, ev("account", equity=5))]  # fmt: skip
    assert brief(run(eng, timeline, 12)) == [(0, "wide", "firing"), (9, "wide", "resolved")]


def test_without_resolve_when_the_alert_resolves_when_when_stops_holding():
    eng = engine("- {name: low, on: account, when: equity < 1000}")
    notes = run(eng, [(0, ev("account", equity=900)), (5, ev("account", equity=1001))], 10)
    assert brief(notes) == [(0, "low", "firing"), (5, "low", "resolved")]


def test_identities_are_separate_alerts():
    eng = engine("- {name: low, on: account, when: equity < 1000}")
    a = ev("account", equity=900)
    b = ev("account", equity=900, subaccount=1)
    notes = run(eng, [(0, a), (10, b)], 12)
    assert [n.labels["subaccount"] for n in notes] == ["0", "1"]
    assert notes[0].fingerprint != notes[1].fingerprint


def test_send_resolved_false_sends_no_resolve():
    eng = engine("- {name: low, on: account, when: equity < 1000, send_resolved: false}")
    notes = run(eng, [(0, ev("account", equity=900)), (5, ev("account", equity=2000))], 10)
    assert brief(notes) == [(0, "low", "firing")]


def test_repeat_reminds_while_firing_and_stops_after_resolve():
    eng = engine("- {name: low, on: account, when: equity < 1000, repeat: 1m}")
    timeline = [(0, ev("account", equity=900)), (150, ev("account", equity=2000))]
    notes = run(eng, timeline, 300)
    assert brief(notes) == [
        (0, "low", "firing"),
        (60, "low", "firing"),
        (120, "low", "firing"),
        (150, "low", "resolved"),
    ]
    assert [n.repeat for n in notes] == [False, True, True, False]
    assert notes[1].message == notes[0].message  # a reminder is marked, not reworded


def test_flapping_alert_is_held_as_firing_until_stable():
    eng = engine(
        "- {name: low, on: account, when: equity < 1000}",
        "defaults: {flapping: {changes: 4, within: 10m, stable: 1m}}\n",
    )
    low, high = ev("account", equity=900), ev("account", equity=2000)
    timeline = [(0, low), (10, high), (20, low), (30, high), (40, low), (50, high)]
    notes = run(eng, timeline, 200)
    # fire, resolve, fire are told; the 4th change is held; stable (high) for 1m -> resolved
    assert brief(notes) == [
        (0, "low", "firing"),
        (10, "low", "resolved"),
        (20, "low", "firing"),
        (110, "low", "resolved"),
    ]
    assert notes[-1].ends_at == 110


def test_flapping_marks_the_alert_and_clears_when_stable_firing():
    eng = engine(
        "- {name: low, on: account, when: equity < 1000}",
        "defaults: {flapping: {changes: 2, within: 10m, stable: 1m}}\n",
    )
    low, high = ev("account", equity=900), ev("account", equity=2000)
    run(eng, [(0, low), (10, high)], 11)
    assert eng.active_alerts()[0].flapping
    run(eng, [(20, low)], 100)
    (view,) = eng.active_alerts()
    assert view.state == "firing"
    assert not view.flapping


def test_flapping_off_with_zero_changes():
    eng = engine("- {name: low, on: account, when: equity < 1000, flapping: {changes: 0}}")
    low, high = ev("account", equity=900), ev("account", equity=2000)
    timeline = [(t, low if t % 20 == 0 else high) for t in range(0, 100, 10)]
    assert len(run(eng, timeline, 100, step=10)) == 10


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 600), st.integers(500, 1500)), max_size=40))
def test_property_never_notifies_firing_twice_within_repeat(points):
    eng = engine("- {name: low, on: account, when: equity < 1000, repeat: 5m}")
    timeline = [(float(t), ev("account", equity=e)) for t, e in points]
    notes = run(eng, timeline, 700, step=7)
    last: dict[str, float] = {}
    for n in notes:
        if n.status == "firing":
            if n.fingerprint in last:  # told firing before and not resolved since: a reminder
                assert n.repeat
                assert n.at - last[n.fingerprint] >= 300
            last[n.fingerprint] = n.at
        else:
            last.pop(n.fingerprint, None)
