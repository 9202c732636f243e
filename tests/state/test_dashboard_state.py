"""Acks and equity samples on both backends, and the upgrade of a SQLite v3 database."""

from __future__ import annotations

import sqlite3

from alertbot.state import DB_FILE
from alertbot.state.api import AckRecord, Sample
from alertbot.state.schema import SCHEMA_VERSION
from alertbot.state.sqlite import SqliteStore


def test_acks_are_kept_replaced_and_dropped(opener):
    store = opener()
    store.acks.put(AckRecord("fp1", "low", "critical", 10.0, "dashboard"))
    store.acks.put(AckRecord("fp2", "high", "warning", 11.0))
    store.acks.put(AckRecord("fp1", "low", "error", 12.0))  # same identity: replaced
    assert [(a.fingerprint, a.severity) for a in store.acks.all()] == [
        ("fp2", "warning"),
        ("fp1", "error"),
    ]
    assert store.acks.drop("fp1") is True
    assert store.acks.drop("fp1") is False
    store.close()
    reopened = opener()
    assert [a.fingerprint for a in reopened.acks.all()] == ["fp2"]  # survives a restart
    reopened.close()


def test_samples_are_read_since_a_time_and_purged_by_age(opener):
    store = opener()
    store.samples.add([Sample("equity:a/0", t, 100.0 + t) for t in (1.0, 2.0, 3.0)])
    store.samples.add([Sample("equity:b/0", 2.0, 5.0), Sample("equity:a/0", 3.0, 7.0)])
    assert store.samples.since(2.0) == [
        Sample("equity:a/0", 2.0, 102.0),
        Sample("equity:a/0", 3.0, 7.0),  # the same series and time: replaced
        Sample("equity:b/0", 2.0, 5.0),
    ]
    assert store.samples.purge(2.5) == 3
    assert [s.at for s in store.samples.since(0.0)] == [3.0]
    store.close()


def test_a_version_3_database_is_upgraded_to_4_keeping_its_rows(tmp_path):
    store = SqliteStore.open(tmp_path)
    store.cursors.put("feed", {"height": 7}, 1.0)
    store.close()
    conn = sqlite3.connect(tmp_path / DB_FILE)  # what alertbot 0.1 (schema 3) left behind
    conn.executescript("DROP TABLE acks; DROP TABLE samples; PRAGMA user_version = 3;")
    conn.close()
    upgraded = SqliteStore.open(tmp_path)
    assert upgraded.db.query("PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert SCHEMA_VERSION == 4
    assert upgraded.cursors.get("feed") == {"height": 7}
    assert upgraded.acks.all() == []
    upgraded.acks.put(AckRecord("fp", "r", "info", 1.0))
    assert len(upgraded.acks.all()) == 1
    upgraded.close()
