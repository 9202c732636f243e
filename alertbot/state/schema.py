"""The SQLite schema and its migrations: MIGRATIONS[i] upgrades a database at version i to i + 1.

Version 1 (alertbot <= 0.x): outbox + alert_state (the engine's state as one JSON document).
Version 2: per-identity rule_state, silences (were state_dir/silences.json), cursors, alert
history, and a counters table (the silences version other processes bump).
Version 3: a meta table holding the database's identity (see identity.py).
Version 4: acks (acknowledged firing alerts) and samples (the dashboard's equity history).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from alertbot.state.db import After, Schema, StateDB, StateError

SCHEMA_VERSION = 4
SILENCES_FILE = "silences.json"  # imported into the silences table by the v2 migration
IMPORTED_SUFFIX = ".imported"

V1 = """
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

V2 = """
CREATE TABLE rule_state (
    rule TEXT NOT NULL,
    key TEXT NOT NULL,
    digest TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (rule, key)
) WITHOUT ROWID;
CREATE TABLE silences (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    labels TEXT NOT NULL,
    starts_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL
);
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE alert_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    rule TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    severity TEXT NOT NULL,
    labels TEXT NOT NULL,
    starts_at REAL NOT NULL
);
CREATE INDEX alert_history_at ON alert_history (at);
"""


def _v1(db: StateDB) -> After:
    db.script(V1)
    return None


def _v2(db: StateDB) -> After:
    """New tables; the v1 engine document becomes rule_state rows; silences.json is imported."""
    db.script(V2)
    for name, value, saved_at in db.query("SELECT name, value, saved_at FROM alert_state"):
        if name == "engine":
            _insert_rule_rows(db, _engine_rows(db.path, value), float(saved_at))
    db.execute("DROP TABLE alert_state")
    source = db.path.parent / SILENCES_FILE
    if not source.exists():
        return None
    for item in _read_silences(source):
        db.execute(
            "INSERT OR REPLACE INTO silences (id, rule, labels, starts_at, ends_at, comment, "
            "created_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (str(item["id"]), str(item["rule"]), json.dumps(item.get("labels", {})),
             float(item.get("starts_at", 0.0)), float(item.get("ends_at", 0.0)),
             str(item.get("comment", "")), str(item.get("created_by", "")),
             float(item.get("starts_at", 0.0))),
        )  # fmt: skip
    db.execute("INSERT OR REPLACE INTO counters (name, value) VALUES ('silences', 1)")
    return lambda: _set_aside(source)


def _read_silences(path: Path) -> list[dict[str, Any]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        items = raw.get("silences", [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ValueError("'silences' is not a list of objects")
        return items
    except (OSError, ValueError, AttributeError) as exc:
        raise StateError(f"cannot import silences from {path}: {exc}; fix or remove it") from None


def _set_aside(path: Path) -> None:
    try:
        os.replace(path, path.with_name(path.name + IMPORTED_SUFFIX))
    except OSError as exc:
        raise StateError(f"imported {path} but cannot rename it: {exc.strerror}") from None


def _engine_rows(path: Path, blob: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(rule, digest, key, value) per identity of a v1 engine document (its frozen layout)."""
    try:
        doc = json.loads(blob)
        rules = doc.get("rules", {}) if doc.get("version") == 1 else {}
        return [row for name, saved in rules.items() for row in _rule_rows(name, saved)]
    except (ValueError, AttributeError, TypeError, KeyError, IndexError) as exc:
        raise StateError(f"saved alert state in {path} is unreadable: {exc}") from None


def _rule_rows(name: str, saved: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    values: dict[str, dict[str, Any]] = {}

    def at(key: list[Any]) -> dict[str, Any]:
        return values.setdefault(_key(key), {})

    for alert in saved.get("alerts", []):
        at(alert["key"])["alert"] = alert
    for key, times in saved.get("windows", []):
        at(key)["window"] = times
    for key, seen in saved.get("last_seen", []):
        at(key)["last_seen"] = seen
    for key, kind, ids, seen in saved.get("seen", []):
        values[_key([kind, key, ids])] = {"seen": seen}
    digest = str(saved.get("digest", ""))
    return [(name, digest, key, value) for key, value in values.items()]


def _key(parts: list[Any]) -> str:
    return json.dumps(parts, separators=(",", ":"))


def _insert_rule_rows(
    db: StateDB, rows: list[tuple[str, str, str, dict[str, Any]]], now: float
) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO rule_state (rule, key, digest, value, updated_at) "
        "VALUES (?, ?, ?, ?, ?)",
        [(rule, key, digest, _key_value(value), now) for rule, digest, key, value in rows],
    )


def _key_value(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _v3(db: StateDB) -> After:
    """The identity table; the identity itself is given at open (identity.py)."""
    db.script("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    return None


V4 = """
CREATE TABLE acks (
    fingerprint TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    at REAL NOT NULL,
    by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE samples (
    series TEXT NOT NULL,
    at REAL NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (series, at)
) WITHOUT ROWID;
CREATE INDEX samples_at ON samples (at);
"""


def _v4(db: StateDB) -> After:
    """Two new, empty tables: nothing older to convert."""
    db.script(V4)
    return None


SCHEMA = Schema((_v1, _v2, _v3, _v4))
assert SCHEMA.version == SCHEMA_VERSION
