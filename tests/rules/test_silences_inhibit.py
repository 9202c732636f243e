"""Silences (store and engine) and inhibition of data alerts by transport alerts."""

from __future__ import annotations

import pytest

from alertbot.rules import SilenceError, SilenceStore
from alertbot.state.sqlite import SqliteStore
from tests.rules.helpers import brief, engine, ev, run

LOW = "- {name: low, on: account, when: equity < 1000}"


def test_store_add_list_expire_and_the_table_round_trip(tmp_path):
    state = SqliteStore.open(tmp_path / "state")
    store = SilenceStore(state.silences.all())
    silence = store.add("low", {"subaccount": "0"}, 3600, now=1000, comment="deposit", id="abc123")
    state.silences.put(silence.to_record(), 1000)
    state.close()
    again = SilenceStore(SqliteStore.open(tmp_path / "state").silences.all())
    assert [s.id for s in again.listing(1500)] == ["abc123"]
    assert again.match("low", {"subaccount": "0", "address": "x"}, 1500) == silence
    assert again.match("low", {"subaccount": "1"}, 1500) is None
    assert again.match("low", {"subaccount": "0"}, 4600) is None  # expired
    again.expire("abc", now=2000)
    assert again.listing(2001) == []
    assert [s.id for s in again.listing(2001, expired=True)] == ["abc123"]
    with pytest.raises(SilenceError, match="not active"):
        again.expire("abc", now=2001)
    with pytest.raises(SilenceError, match="no silence"):
        again.expire("zzz", now=2001)


def test_the_version_shows_another_process_writing(tmp_path):
    live, cli = SqliteStore.open(tmp_path), SqliteStore.open(tmp_path)
    seen = live.silences.version()
    cli.silences.put(SilenceStore().add("low", {}, 60, now=0).to_record(), 0)
    assert live.silences.version() != seen
    assert [s.rule for s in live.silences.all()] == ["low"]
    seen = live.silences.version()
    assert live.silences.purge(before=100) == 1  # ended at 60
    assert cli.silences.version() != seen
    assert live.silences.purge(before=100) == 0
    live.close()
    cli.close()


def test_silenced_alert_changes_state_but_is_not_notified_until_the_silence_ends():
    store = SilenceStore()
    store.add("low", {"subaccount": "0"}, 60, now=0)
    eng = engine(LOW, silences=store)
    notes = run(eng, [(0, ev("account", equity=900))], 100)
    assert eng.active_alerts()[0].state == "firing"
    assert brief(notes) == [(60, "low", "firing")]  # told when the silence expired
    assert eng.stats["low"].suppressed == 1


def test_silence_by_glob_and_resolve_is_silenced_too():
    store = SilenceStore()
    eng = engine(LOW, silences=store)
    assert len(run(eng, [(0, ev("account", equity=900))], 1)) == 1
    store.add("l*", {}, 3600, now=2)
    assert run(eng, [(5, ev("account", equity=2000))], 10) == []


INHIBIT = """
- {name: lost, on: connection.lost, resolve_on: connection.connected}
- {name: low, on: account, when: equity < 1000}
"""


def test_transport_alert_inhibits_data_alerts_from_the_same_conn_by_default():
    eng = engine(INHIBIT)
    timeline = [(0, ev("connection.lost")), (1, ev("account", equity=900))]
    timeline += [(2, ev("account", equity=900, subaccount=1, conn=1))]
    timeline += [(30, ev("connection.connected"))]
    notes = run(eng, timeline, 40)
    assert [(n.at, n.rule, n.status, n.labels.get("subaccount")) for n in notes] == [
        (0, "lost", "firing", None),
        (2, "low", "firing", "1"),  # another connection: not inhibited
        (30, "lost", "resolved", None),
        (30, "low", "firing", "0"),  # held back until the feed was back
    ]
    assert eng.stats["low"].suppressed == 1


def test_inhibit_section_replaces_the_default():
    eng = engine(INHIBIT, "inhibit: []\n")
    timeline = [(0, ev("connection.lost")), (1, ev("account", equity=900))]
    assert brief(run(eng, timeline, 2)) == [(0, "lost", "firing"), (1, "low", "firing")]


def test_custom_inhibit_by_rule_names_and_labels():
    extra = """
    inhibit:
      - name: storm-mutes-low
        source: {rules: [lost]}
        target: {rules: [low]}
        equal: []
    """
    eng = engine(INHIBIT, extra)
    timeline = [(0, ev("connection.lost")), (1, ev("account", equity=900, conn=5))]
    assert brief(run(eng, timeline, 2)) == [(0, "lost", "firing")]
