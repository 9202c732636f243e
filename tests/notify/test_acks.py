"""AckBook: an acknowledged alert's reminders are dropped until it resolves or escalates."""

from __future__ import annotations

import dataclasses

from alertbot.notify.acks import AckBook
from alertbot.state.sqlite import SqliteStore
from tests.delivery.fakes import note


def test_reminders_of_an_acked_alert_are_dropped_until_it_resolves(tmp_path):
    store = SqliteStore.open(tmp_path)
    book = AckBook(store.acks)
    first = note(1)
    book.ack(first.fingerprint, first.rule, first.severity, 10.0, "ann")
    reminder = dataclasses.replace(first, repeat=True)
    other = dataclasses.replace(note(2), repeat=True)
    assert book.filter([reminder, other]) == [other]  # only the acked identity is held back
    assert book.dropped == 1
    assert AckBook(store.acks).filter([reminder]) == []  # a restart keeps the ack
    resolved = dataclasses.replace(first, status="resolved")
    assert book.filter([resolved]) == [resolved]
    assert book.filter([reminder]) == [reminder]  # the ack ended with the resolve
    assert store.acks.all() == []
    store.close()


def test_another_severity_ends_the_ack(tmp_path):
    store = SqliteStore.open(tmp_path)
    book = AckBook(store.acks)
    first = note(1)
    book.ack(first.fingerprint, first.rule, first.severity, 10.0)
    other = "critical" if first.severity != "critical" else "info"
    escalated = dataclasses.replace(first, severity=other, repeat=True)
    assert book.filter([escalated]) == [escalated]
    assert book.by_fingerprint == {}
    book.ack(first.fingerprint, first.rule, first.severity, 11.0)
    book.keep_only([])  # no longer firing (a resolve nobody was told)
    assert store.acks.all() == []
    store.close()


def test_a_groups_reminder_leaves_out_its_acknowledged_members(tmp_path):
    from tests.rules.helpers import engine, ev, run

    rule = "- {name: high, on: market, when: oracle_price > 10, repeat: 10s, group_wait: 1s}"
    eng = engine(rule)
    timeline = [(0, ev("market", ticker=t, oracle_price=20.0)) for t in ("A-USD", "B-USD")]
    notes = run(eng, timeline, 12)
    first, reminder = notes  # both tickers told together, then reminded together
    assert [len(first.alerts), len(reminder.alerts), reminder.repeat] == [2, 2, True]
    a, b = reminder.alerts
    store = SqliteStore.open(tmp_path)
    book = AckBook(store.acks)
    book.ack(a.fingerprint, "high", reminder.severity, 5.0)
    [left] = book.filter([reminder])  # B alone, told as the single alert it now is
    assert (left.alerts, left.fingerprint, left.title) == ((), b.fingerprint, b.title)
    assert left.labels == b.labels
    book.ack(b.fingerprint, "high", reminder.severity, 6.0)
    assert book.filter([reminder]) == []  # every member acknowledged: no reminder at all
    assert book.dropped == 3
    assert book.filter([first]) == [first]  # a first telling is never held back
    store.close()
