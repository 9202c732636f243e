"""The store's parts, on SQLite files and on a real PostgreSQL: cursors, silences, history,
rule state, transactions (the API is the same; `opener` picks the backend)."""

from __future__ import annotations

import pytest

from alertbot.core.model import AlertChange
from alertbot.rules import SilenceStore
from alertbot.state.api import RuleStateChange, StateChanges
from alertbot.state.sqlite import SqliteStore
from tests.delivery.fakes import note
from tests.rules.helpers import ADDR, engine, ev, run


def test_cursors_round_trip_across_reopen(opener):
    store = opener()
    assert store.cursors.get("fills/dydx1abc/0") is None
    store.cursors.put("fills/dydx1abc/0", {"height": 41, "ids": ["a", "b"]}, 1.0)
    store.cursors.put("fills/dydx1abc/0", {"height": 42, "ids": ["c"]}, 2.0)  # replaced
    store.cursors.put("blocks", 7, 2.0)
    store.close()
    again = opener()
    assert again.cursors.get("fills/dydx1abc/0") == {"height": 42, "ids": ["c"]}
    assert again.cursors.get("blocks") == 7
    assert again.cursors.get("other") is None
    again.close()


def test_silences_added_by_another_store_are_seen_through_the_version(opener):
    running, cli = opener(), opener()
    seen = running.silences.version()
    assert running.silences.version() == seen  # nothing changed: no reload needed
    added = SilenceStore().add("low", {"subaccount": "0"}, 3600, now=100.0, id="abc")
    cli.silences.put(added.to_record(), 100.0)
    assert running.silences.version() != seen
    live = SilenceStore(running.silences.all())
    assert live.match("low", {"subaccount": "0"}, 200.0) is not None
    running.close()
    cli.close()


def test_history_appends_reads_newest_first_and_purges(opener):
    store = opener()
    changes = [AlertChange("low", "fp", s, "warning", {"n": "1"}, at, 0.0)
               for s, at in (("pending", 1.0), ("firing", 31.0), ("resolved", 90.0))]  # fmt: skip
    store.history.append(changes)
    assert [c.state for c in store.history.recent(2)] == ["resolved", "firing"]
    assert store.history.recent()[0] == changes[-1]
    assert store.history.purge(before=50.0) == 2
    assert store.history.recent() == [changes[-1]]
    store.close()


def test_rule_state_upserts_and_forgets_the_last_change_of_each_identity(opener):
    store = opener()
    store.rules.apply([RuleStateChange("r", "d1", "[1]", {"v": 1}),
                       RuleStateChange("r", "d1", "[2]", {"v": 2})], 1.0)  # fmt: skip
    written = store.rules.apply([RuleStateChange("r", "d1", "[1]", {"v": 3}),
                                 RuleStateChange("r", "d1", "[2]", None),
                                 RuleStateChange("r", "d1", "[1]", {"v": 4})], 2.0)  # fmt: skip
    assert written == 2
    assert store.rules.load() == [RuleStateChange("r", "d1", "[1]", {"v": 4})]
    store.close()


def test_a_row_only_new_is_inserted_where_none_is_and_never_overwrites(opener):
    store = opener()
    store.rules.apply([RuleStateChange("r", "d", "[1]", {"v": "theirs"})], 1.0)
    late = [RuleStateChange("r", "d", key, {"v": "late"}, only_new=True) for key in ("[1]", "[2]")]
    store.rules.apply(late, 2.0)
    assert store.rules.load() == [RuleStateChange("r", "d", "[1]", {"v": "theirs"}),
                                  RuleStateChange("r", "d", "[2]", {"v": "late"})]  # fmt: skip
    store.close()


def test_only_changed_identities_are_written(tmp_path):
    rules = "- {name: low, on: account, when: equity < 1000}"
    eng = engine(rules)
    events = [(0, ev("account", subaccount=i, equity=900)) for i in range(100)]
    run(eng, events, 1)
    store = SqliteStore.open(tmp_path)
    first = eng.drain_state()
    assert len(first.rules) == 100
    store.save(first, 1.0)
    assert len(store.rules.load()) == 100
    run(eng, [(2, ev("account", subaccount=7, equity=2000))], 2)  # one identity resolves
    changed = eng.drain_state()
    before = store.db.conn.total_changes
    store.save(changed, 2.0)
    assert [(c.rule, c.key) for c in changed.rules] == [("low", f'["{ADDR}",7]')]
    written = store.db.conn.total_changes - before
    assert written == 1 + len(changed.history)  # one rule_state row (+ its history row)
    assert eng.drain_state() == StateChanges()  # nothing changed since
    store.close()


def test_one_transaction_spans_outbox_rule_state_and_history(opener):
    store = opener()
    change = StateChanges((RuleStateChange("r", "d", "[1]", {"v": 1}),),
                          (AlertChange("r", "fp", "firing", "warning", {}, 1.0, 1.0),))  # fmt: skip

    def crash_before_the_commit() -> None:
        with store.transaction():
            store.outbox.add(note(1), "hook", 1.0)
            store.save(change, 1.0)
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        crash_before_the_commit()
    assert store.outbox.counts() == {}
    assert store.rules.load() == []
    assert store.history.recent() == []
    with store.transaction():
        store.outbox.add(note(1), "hook", 1.0)
        store.save(change, 1.0)
    assert store.outbox.counts() == {"pending": 1}
    assert len(store.rules.load()) == 1
    assert len(store.history.recent()) == 1
    store.close()


def test_told_counts_each_note_once_within_its_window(opener):
    store = opener()
    try:
        store.outbox.add(note(1), "hook", 10.0)
        store.outbox.add(note(1), "mail", 10.0)  # one note to two notifiers: told once
        store.outbox.add(note(2), "hook", 10.0)
        store.outbox.add(note(2, status="resolved"), "hook", 11.0)
        store.outbox.add(note(3, rule="fills"), "hook", 12.0, status="dead", error="refused")
        store.outbox.add(note(4), "hook", 20.0)  # after the window
        assert store.outbox.told(10.0, 20.0) == {
            ("equity-low", "firing"): 2,
            ("equity-low", "resolved"): 1,
            ("fills", "firing"): 1,
        }
        assert store.outbox.told(20.0, 30.0) == {("equity-low", "firing"): 1}
        assert store.outbox.told(0.0, 10.0) == {}
    finally:
        store.close()
