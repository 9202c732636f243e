"""The embedded backend: every part of `StateStore` as tables of one SQLite file (see db.py)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from alertbot.core.model import AlertChange
from alertbot.state import identity as ids
from alertbot.state.api import (
    AckRecord,
    RuleStateChange,
    Sample,
    SharedRateLimits,
    SilenceRecord,
    StateChanges,
)
from alertbot.state.db import DB_FILE, StateDB, StateError
from alertbot.state.outbox import SqliteOutbox
from alertbot.state.runlock import RunLock
from alertbot.state.schema import SCHEMA


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _parse(db: StateDB, what: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise StateError(f"{what} in {db.path} is unreadable: {exc}") from None


class SqliteRuleStates:
    """rule_state: one row per (rule, identity), upserted or deleted as the engine changes."""

    def __init__(self, db: StateDB) -> None:
        self.db = db

    def apply(self, changes: Sequence[RuleStateChange], now: float) -> int:
        """Upsert or forget each identity, in order; return the rows written or deleted."""
        if not changes:
            return 0
        latest = {(c.rule, c.key): c for c in changes}  # the last change of an identity wins
        gone = [(r, k) for (r, k), c in latest.items() if c.value is None]
        kept = [(c.rule, c.key, c.digest, _json(c.value), now)
                for c in latest.values() if c.value is not None and not c.only_new]  # fmt: skip
        new = [(c.rule, c.key, c.digest, _json(c.value), now)
               for c in latest.values() if c.value is not None and c.only_new]  # fmt: skip
        insert = "INSERT INTO rule_state (rule, key, digest, value, updated_at) "
        insert += "VALUES (?, ?, ?, ?, ?) ON CONFLICT (rule, key) DO "
        with self.db.transaction():
            if gone:
                self.db.executemany("DELETE FROM rule_state WHERE rule = ? AND key = ?", gone)
            if kept:
                self.db.executemany(
                    insert + "UPDATE SET digest = excluded.digest, value = excluded.value, "
                    "updated_at = excluded.updated_at",
                    kept,
                )
            if new:
                self.db.executemany(insert + "NOTHING", new)
        return len(latest)

    def load(self) -> list[RuleStateChange]:
        """Every saved identity."""
        raw = self.db.query("SELECT rule, digest, key, value FROM rule_state ORDER BY rule, key")
        return [
            RuleStateChange(str(rule), str(digest), str(key), _parse(self.db, "rule state", value))
            for rule, digest, key, value in raw
        ]

    def load_scopes(
        self, scopes: Collection[str], addresses: Collection[str]
    ) -> list[RuleStateChange]:
        """Every saved identity: one process owns them all (a cluster runs on PostgreSQL)."""
        del scopes, addresses
        return self.load()


class SqliteSilences:
    """silences, plus a version counter bumped in the same transaction as every write."""

    def __init__(self, db: StateDB) -> None:
        self.db = db

    def all(self) -> list[SilenceRecord]:
        """Every stored silence, oldest first."""
        raw = self.db.query(
            "SELECT id, rule, labels, starts_at, ends_at, comment, created_by FROM silences "
            "ORDER BY starts_at, id"
        )
        return [
            SilenceRecord(str(i), str(rule), dict(_parse(self.db, "silence labels", labels)),
                          float(starts), float(ends), str(comment), str(by))
            for i, rule, labels, starts, ends, comment, by in raw
        ]  # fmt: skip

    def put(self, silence: SilenceRecord, now: float) -> None:
        """Insert or replace one silence."""
        s = silence
        with self.db.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO silences (id, rule, labels, starts_at, ends_at, comment, "
                "created_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (s.id, s.rule, _json(s.labels), s.starts_at, s.ends_at, s.comment,
                 s.created_by, now),
            )  # fmt: skip
            self._bump()

    def purge(self, before: float) -> int:
        """Forget silences that ended before `before`."""
        with self.db.transaction():
            cur = self.db.execute("DELETE FROM silences WHERE ends_at < ?", (before,))
            if cur.rowcount:
                self._bump()
        return int(cur.rowcount)

    def version(self) -> int:
        """Grows with every write from any process."""
        raw = self.db.query("SELECT value FROM counters WHERE name = 'silences'")
        return int(raw[0][0]) if raw else 0

    def _bump(self) -> None:
        self.db.execute(
            "INSERT INTO counters (name, value) VALUES ('silences', 1) "
            "ON CONFLICT (name) DO UPDATE SET value = value + 1"
        )


class SqliteCursors:
    """cursors: named JSON values."""

    def __init__(self, db: StateDB) -> None:
        self.db = db

    def get(self, name: str) -> Any:
        """The saved value, or None."""
        raw = self.db.query("SELECT value FROM cursors WHERE name = ?", (name,))
        return _parse(self.db, f"cursor {name!r}", raw[0][0]) if raw else None

    def put(self, name: str, value: Any, now: float) -> None:
        """Replace the saved value."""
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO cursors (name, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (name, _json(value), now),
            )


class SqliteHistory:
    """alert_history: appended transitions, read newest first, pruned by age."""

    def __init__(self, db: StateDB) -> None:
        self.db = db

    def append(self, changes: Sequence[AlertChange]) -> None:
        """Record transitions."""
        if not changes:
            return
        with self.db.transaction():
            self.db.executemany(
                "INSERT INTO alert_history (at, rule, fingerprint, state, severity, labels, "
                "starts_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(c.at, c.rule, c.fingerprint, c.state, c.severity, _json(c.labels), c.starts_at)
                 for c in changes],
            )  # fmt: skip

    def recent(self, limit: int = 100) -> list[AlertChange]:
        """The newest transitions, newest first."""
        raw = self.db.query(
            "SELECT rule, fingerprint, state, severity, labels, at, starts_at FROM alert_history "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [
            AlertChange(str(rule), str(fp), str(state), severity,
                        dict(_parse(self.db, "alert history", labels)), float(at), float(starts))
            for rule, fp, state, severity, labels, at, starts in raw
        ]  # fmt: skip

    def purge(self, before: float) -> int:
        """Forget transitions older than `before`."""
        with self.db.transaction():
            cur = self.db.execute("DELETE FROM alert_history WHERE at < ?", (before,))
        return int(cur.rowcount)


class SqliteAcks:
    """acks: one row per acknowledged alert identity."""

    def __init__(self, db: StateDB) -> None:
        self.db = db

    def all(self) -> list[AckRecord]:
        """Every stored ack, oldest first."""
        raw = self.db.query("SELECT fingerprint, rule, severity, at, by FROM acks ORDER BY at")
        return [AckRecord(str(f), str(r), str(s), float(a), str(b)) for f, r, s, a, b in raw]

    def put(self, ack: AckRecord) -> None:
        """Insert or replace the ack of one identity."""
        with self.db.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO acks (fingerprint, rule, severity, at, by) "
                "VALUES (?, ?, ?, ?, ?)",
                (ack.fingerprint, ack.rule, ack.severity, ack.at, ack.by),
            )

    def drop(self, fingerprint: str) -> bool:
        """Forget the ack of one identity; True when there was one."""
        with self.db.transaction():
            cur = self.db.execute("DELETE FROM acks WHERE fingerprint = ?", (fingerprint,))
        return bool(cur.rowcount)


class SqliteSamples:
    """samples: (series, at) -> value, pruned by age."""

    def __init__(self, db: StateDB) -> None:
        self.db = db

    def add(self, samples: Sequence[Sample]) -> None:
        """Append points (the same series and time replaces the older)."""
        if not samples:
            return
        with self.db.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO samples (series, at, value) VALUES (?, ?, ?)",
                [(p.series, p.at, p.value) for p in samples],
            )

    def since(self, after: float) -> list[Sample]:
        """Every point at or after `after`, by series then time."""
        raw = self.db.query(
            "SELECT series, at, value FROM samples WHERE at >= ? ORDER BY series, at", (after,)
        )
        return [Sample(str(s), float(a), float(v)) for s, a, v in raw]

    def purge(self, before: float) -> int:
        """Forget points older than `before`."""
        with self.db.transaction():
            cur = self.db.execute("DELETE FROM samples WHERE at < ?", (before,))
        return int(cur.rowcount)


class SqliteStore:
    """The `StateStore` of one state_dir: every part shares one connection and transaction."""

    def __init__(self, db: StateDB, own: str = "") -> None:
        self.db = db
        self.path: Path = db.path
        self.identity = own  # the database's id (identity.py); "" when opened without one
        self._watch = ids.Watch(db.path, own) if own else None
        self.outbox = SqliteOutbox(db)
        self.rules = SqliteRuleStates(db)
        self.silences = SqliteSilences(db)
        self.cursors = SqliteCursors(db)
        self.history = SqliteHistory(db)
        self.rate_limits: SharedRateLimits | None = None  # one process: delivery's own buckets
        self.acks = SqliteAcks(db)
        self.samples = SqliteSamples(db)
        self.lock: RunLock | None = None  # held by `run` and `state migrate` (runlock.py)

    @classmethod
    def open(
        cls,
        state_dir: str | Path,
        *,
        synchronous: Literal["normal", "full"] = "normal",
        create: bool = True,
        reset: bool = False,
        exclusive: str | None = None,
    ) -> SqliteStore:
        """Open, create or upgrade state_dir/alertbot.db; StateError names the file.

        A state dir that held a database and lost it is refused (identity.py); `reset` moves
        whatever is there aside first and starts empty. `exclusive` (what the caller is about
        to do) first takes the state dir's run lock (runlock.py), before anything is moved.
        """
        path = Path(state_dir) / DB_FILE
        lock = RunLock.take(state_dir, exclusive) if exclusive is not None else None
        try:
            if reset:
                ids.reset(path)
            promised = ids.expected(path)
            db = StateDB.open(state_dir, schema=SCHEMA, synchronous=synchronous, create=create)
            try:
                store = cls(db, ids.establish(db, promised))
            except BaseException:
                db.close()
                raise
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        store.lock = lock
        return store

    def intact(self) -> str | None:
        """None while the database file is the one opened; else what happened to it."""
        return self._watch.intact() if self._watch is not None else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes inside commit together; nested uses join the outer one."""
        with self.db.transaction():
            yield

    def save(self, changes: StateChanges, now: float) -> None:
        """Rule state and history of one drain, in one transaction (joins an outer one)."""
        if not changes:
            return
        with self.db.transaction():
            self.rules.apply(changes.rules, now)
            self.history.append(changes.history)

    def close(self) -> None:
        """Close the connection, then let the next run in."""
        try:
            self.db.close()
        finally:
            if self.lock is not None:
                self.lock.release()
