"""Schema 2: the upgrade from a version-1 state dir keeps everything; unknown files are refused."""

from __future__ import annotations

import json
import sqlite3

import pytest

from alertbot.notify.delivery import Delivery
from alertbot.notify.delivery_config import DeliveryConfig
from alertbot.rules import SilenceStore
from alertbot.rules.build import digest
from alertbot.state import DB_FILE, StateError
from alertbot.state.outbox import note_to_json
from alertbot.state.schema import SCHEMA_VERSION
from alertbot.state.sqlite import SqliteStore
from tests.delivery.fakes import Clock, Recorder, note
from tests.rules.helpers import brief, engine, ev, run

# The DDL of schema version 1 exactly as the previous release created it (frozen here).
V1_DDL = """
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notifier TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    solo INTEGER NOT NULL DEFAULT 0,
    fallback INTEGER NOT NULL DEFAULT 0,
    rule TEXT NOT NULL,
    alert_status TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    title TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX outbox_queue ON outbox (status, notifier, id);
CREATE TABLE alert_state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    saved_at REAL NOT NULL
);
"""
RULES = "- {name: low, on: account, when: equity < 1000}"
V1_ALERT_FIELDS = (
    "key", "labels", "fingerprint", "event", "state", "holds", "changed_at", "since",
    "starts_at", "notified", "last_notified_at", "flapping", "flips",
)  # fmt: skip


def _v1_engine_document() -> str:
    """What release 1's Engine.export_state() saved for a firing, notified `low` alert."""
    eng = engine(RULES)
    assert brief(run(eng, [(0, ev("account", equity=900))], 1)) == [(0, "low", "firing")]
    rt = eng.by_name["low"]
    alert = next(iter(rt.alerts.values())).to_json()
    saved = {name: alert[name] for name in V1_ALERT_FIELDS}
    return json.dumps({"version": 1, "rules": {"low": {"digest": digest(rt), "alerts": [saved]}}})


def _v1_state_dir(path):
    path.mkdir()
    conn = sqlite3.connect(path / DB_FILE, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(V1_DDL)
    pending = note(7, notify=("ops",))
    conn.execute(
        "INSERT INTO outbox (notifier, status, attempts, next_attempt_at, last_error, created_at, "
        "updated_at, fallback, rule, alert_status, fingerprint, title, note) "
        "VALUES ('ops', 'pending', 0, 5.0, '', 5.0, 5.0, 0, ?, ?, ?, ?, ?)",
        (pending.rule, pending.status, pending.fingerprint, pending.title, note_to_json(pending)),
    )
    conn.execute(
        "INSERT INTO alert_state (name, value, saved_at) VALUES ('engine', ?, 5.0)",
        (_v1_engine_document(),),
    )
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    silence = {"id": "s1", "rule": "fills*", "labels": {}, "starts_at": 0.0,
               "ends_at": 4e9, "comment": "deposit", "created_by": "ann"}  # fmt: skip
    (path / "silences.json").write_text(json.dumps({"version": 1, "silences": [silence]}))


async def test_a_version_1_state_dir_is_upgraded_without_losing_anything(tmp_path):
    state_dir = tmp_path / "state"
    _v1_state_dir(state_dir)
    store = SqliteStore.open(state_dir)
    assert store.db.query("PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert not (state_dir / "silences.json").exists()
    assert (state_dir / "silences.json.imported").exists()

    ops = Recorder("ops")  # the pending row is still delivered
    delivery = Delivery(store, {"ops": ops}, DeliveryConfig(), clock=Clock())
    await delivery.start()
    await delivery.stop(timeout=5)
    assert ops.ids() == ["fp7"]

    restarted = engine(RULES)  # the firing alert is restored: not re-sent, its resolve is
    assert restarted.restore(store.rules.load()) == 1
    assert run(restarted, [(50, ev("account", equity=900))], 55) == []
    assert brief(run(restarted, [(60, ev("account", equity=2000))], 61)) == [
        (60, "low", "resolved")
    ]
    silences = SilenceStore(store.silences.all())  # the silence is active
    assert silences.match("fills-big", {}, 1_000_000.0) is not None
    store.close()


def test_an_unreadable_silences_file_stops_the_upgrade_and_changes_nothing(tmp_path):
    state_dir = tmp_path / "state"
    _v1_state_dir(state_dir)
    (state_dir / "silences.json").write_text("{not json")
    with pytest.raises(StateError, match=rf"cannot import silences from {state_dir}/silences.json"):
        SqliteStore.open(state_dir)
    conn = sqlite3.connect(state_dir / DB_FILE)
    assert conn.execute("PRAGMA user_version").fetchone() == (1,)  # rolled back
    assert conn.execute("SELECT name FROM alert_state").fetchall() == [("engine",)]
    conn.close()
    assert (state_dir / "silences.json").read_text() == "{not json"


def test_garbage_named_alertbot_db_is_refused_and_left_alone(tmp_path):
    garbage = bytes(range(256)) * 64
    (tmp_path / DB_FILE).write_bytes(garbage)
    with pytest.raises(StateError, match=rf"{tmp_path / DB_FILE} is corrupt or not a database"):
        SqliteStore.open(tmp_path)
    assert (tmp_path / DB_FILE).read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir()) == [DB_FILE]


def test_a_newer_schema_is_refused_and_left_alone(tmp_path):
    conn = sqlite3.connect(tmp_path / DB_FILE)
    conn.execute("CREATE TABLE future (x)")
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    before = (tmp_path / DB_FILE).read_bytes()
    with pytest.raises(StateError, match=rf"{tmp_path / DB_FILE} has schema 99, newer than"):
        SqliteStore.open(tmp_path)
    assert (tmp_path / DB_FILE).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [DB_FILE]
