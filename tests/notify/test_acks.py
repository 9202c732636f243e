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
