"""Grouping of bursts, one-off events (no resolve, once per identity)."""

from __future__ import annotations

from alertbot.notify.render import headline
from tests.rules.helpers import brief, engine, ev, run

FILLS = "- {name: filled, on: fill, title: 'fill {{ id }}'}"


def burst(n: int = 40, spacing: float = 0.05) -> list:
    return [(i * spacing, ev("fill", id=f"f{i}")) for i in range(n)]


def test_a_burst_of_40_fills_is_at_most_2_notifications_with_defaults():
    eng = engine(FILLS)
    notes = run(eng, burst(), 30)
    assert brief(notes) == [(0, "filled", "firing"), (5, "filled", "firing")]
    first, rest = notes
    assert first.title == "fill f0"
    assert first.alerts == ()
    assert len(rest.alerts) == 39
    assert rest.title == "fill f1"  # the first member's own words; notify says how many more
    assert [m.title for m in rest.alerts[:2]] == ["fill f1", "fill f2"]
    assert headline(rest) == "fill f1 (+38 more)"
    assert rest.labels == {"address": first.labels["address"], "subaccount": "0"}


def test_group_wait_makes_the_burst_exactly_one_notification():
    eng = engine(FILLS, "defaults: {group_wait: 3s}\n")
    notes = run(eng, burst(), 30)
    assert brief(notes) == [(3, "filled", "firing")]
    assert len(notes[0].alerts) == 40


def test_a_quiet_rule_sends_at_once_again_after_group_interval():
    eng = engine(FILLS)
    timeline = [(0, ev("fill", id="a")), (2, ev("fill", id="b")), (20, ev("fill", id="c"))]
    assert brief(run(eng, timeline, 30)) == [
        (0, "filled", "firing"),
        (5, "filled", "firing"),
        (20, "filled", "firing"),
    ]


def test_one_off_notifies_once_per_identity_and_never_resolves():
    eng = engine(FILLS)
    same = ev("fill", id="dup")
    notes = run(eng, [(0, same), (10, same), (20, ev("fill", id="other"))], 3600)
    assert [n.title for n in notes] == ["fill dup", "fill other"]
    assert all(n.status == "firing" for n in notes)
    assert eng.stats["filled"].duplicates == 1
    assert eng.active_alerts() == []


def test_order_transitions_are_separate_one_offs():
    eng = engine("- {name: orders, on: 'order.*'}")
    notes = run(
        eng, [(0, ev("order.opened")), (10, ev("order.filled")), (20, ev("order.filled"))], 30
    )
    assert len(notes) == 2
    assert notes[0].fingerprint != notes[1].fingerprint


def test_one_off_ids_are_forgotten_after_dedup_window():
    eng = engine(FILLS, "defaults: {dedup_window: 1m}\n")
    same = ev("fill", id="dup")
    assert len(run(eng, [(0, same), (100, same)], 110, step=10)) == 2


def test_alert_resolved_before_its_group_flushes_is_never_told():
    eng = engine("- {name: low, on: account, when: equity < 1000}", "defaults: {group_wait: 10s}\n")
    notes = run(eng, [(0, ev("account", equity=900)), (5, ev("account", equity=2000))], 30)
    assert notes == []


def test_grouping_is_per_rule_and_status():
    eng = engine(
        "- {name: low, on: account, when: equity < 1000}\n"
        "- {name: lev, on: account, when: leverage > 2}"
    )
    notes = run(eng, [(0, ev("account", equity=900))], 1)
    assert sorted(n.rule for n in notes) == ["lev", "low"]


def test_adopting_a_saved_occurrence_that_is_already_waiting_tells_it_once():
    eng = engine(FILLS, "defaults: {group_wait: 3s}\n")
    assert run(eng, [(0, ev("fill", id="f1"))], 1) == []  # accepted, waiting in its group
    saved = eng.snapshot()  # what the store holds for it (saved untold)
    assert eng.adopt(saved, lambda scope: True) == len(saved)  # e.g. a lease lost and regained
    notes = [*eng.tick(2.0), *eng.tick(5.0)]
    assert [len(n.alerts) or 1 for n in notes] == [1]
    assert eng.by_name["filled"].untold == {}
