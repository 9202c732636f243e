"""The shared backend: every part of `StateStore` as tables of one PostgreSQL database.

Several processes (replicas, and `alertbot silence`/`outbox` commands) open one database; the
outbox is claimed row by row (pgoutbox.py) and each notifier's rate limit is one shared token
bucket (`PgRateLimits`). SQL mirrors sqlite.py statement for statement.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from alertbot.core.model import AlertChange
from alertbot.state.api import AckRecord, RuleStateChange, Sample, SilenceRecord, StateChanges
from alertbot.state.config import StateConfig
from alertbot.state.db import StateError, StateWriteError
from alertbot.state.pgdb import PgDB
from alertbot.state.pgoutbox import DB_NOW, PgOutbox
from alertbot.state.pgschema import PG_SCHEMA


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _parse(db: PgDB, what: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise StateError(f"{what} in {db.where} is unreadable: {exc}") from None


class PgRuleStates:
    """rule_state: one row per (rule, identity), upserted or deleted as the engine changes."""

    def __init__(self, db: PgDB) -> None:
        self.db = db

    def apply(self, changes: Sequence[RuleStateChange], now: float) -> int:
        """Upsert or forget each identity, in order; return the rows written or deleted."""
        if not changes:
            return 0
        latest = {(c.rule, c.key): c for c in changes}  # the last change of an identity wins
        gone = [(r, k) for (r, k), c in latest.items() if c.value is None]
        kept = [(c.rule, c.key, c.digest, _json(c.value), now, c.scope)
                for c in latest.values() if c.value is not None and not c.only_new]  # fmt: skip
        new = [(c.rule, c.key, c.digest, _json(c.value), now, c.scope)
               for c in latest.values() if c.value is not None and c.only_new]  # fmt: skip
        insert = "INSERT INTO rule_state (rule, key, digest, value, updated_at, scope) "
        insert += "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (rule, key) DO "
        with self.db.transaction():
            self.db.executemany("DELETE FROM rule_state WHERE rule = %s AND key = %s", gone)
            self.db.executemany(
                insert + "UPDATE SET digest = excluded.digest, value = excluded.value, "
                "updated_at = excluded.updated_at, scope = excluded.scope",
                kept,
            )
            self.db.executemany(insert + "NOTHING", new)
        return len(latest)

    def load(self) -> list[RuleStateChange]:
        """Every saved identity."""
        return self._rows("SELECT rule, digest, key, value FROM rule_state ORDER BY rule, key")

    def load_scopes(
        self, scopes: Collection[str], addresses: Collection[str]
    ) -> list[RuleStateChange]:
        """The identities of these scopes and of these addresses' subaccounts, by index; rows
        without a scope (copied by `state migrate`, or older) come too, for the caller to sort."""
        return self._rows(
            "SELECT rule, digest, key, value FROM rule_state WHERE scope IS NULL "
            "OR scope = ANY(%s) OR split_part(scope, '/', 1) = ANY(%s) ORDER BY rule, key",
            (list(scopes), list(addresses)),
        )

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[RuleStateChange]:
        return [
            RuleStateChange(str(rule), str(digest), str(key), _parse(self.db, "rule state", value))
            for rule, digest, key, value in self.db.query(sql, params)
        ]


class PgSilences:
    """silences, plus a version counter bumped in the same transaction as every write."""

    def __init__(self, db: PgDB) -> None:
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
                "INSERT INTO silences (id, rule, labels, starts_at, ends_at, comment, "
                "created_by, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET rule = excluded.rule, labels = excluded.labels, "
                "starts_at = excluded.starts_at, ends_at = excluded.ends_at, "
                "comment = excluded.comment, created_by = excluded.created_by, "
                "updated_at = excluded.updated_at",
                (s.id, s.rule, _json(s.labels), s.starts_at, s.ends_at, s.comment,
                 s.created_by, now),
            )  # fmt: skip
            self._bump()

    def purge(self, before: float) -> int:
        """Forget silences that ended before `before`."""
        with self.db.transaction():
            count = self.db.execute("DELETE FROM silences WHERE ends_at < %s", (before,))
            if count:
                self._bump()
        return count

    def version(self) -> int:
        """Grows with every write from any process."""
        raw = self.db.query("SELECT value FROM counters WHERE name = 'silences'")
        return int(raw[0][0]) if raw else 0

    def _bump(self) -> None:
        self.db.execute(
            "INSERT INTO counters (name, value) VALUES ('silences', 1) "
            "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1"
        )


class PgCursors:
    """cursors: named JSON values."""

    def __init__(self, db: PgDB) -> None:
        self.db = db

    def get(self, name: str) -> Any:
        """The saved value, or None."""
        raw = self.db.query("SELECT value FROM cursors WHERE name = %s", (name,))
        return _parse(self.db, f"cursor {name!r}", raw[0][0]) if raw else None

    def put(self, name: str, value: Any, now: float) -> None:
        """Replace the saved value."""
        self.db.execute(
            "INSERT INTO cursors (name, value, updated_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            (name, _json(value), now),
        )


class PgHistory:
    """alert_history: appended transitions, read newest first, pruned by age."""

    def __init__(self, db: PgDB) -> None:
        self.db = db

    def append(self, changes: Sequence[AlertChange]) -> None:
        """Record transitions."""
        self.db.executemany(
            "INSERT INTO alert_history (at, rule, fingerprint, state, severity, labels, "
            "starts_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(c.at, c.rule, c.fingerprint, c.state, c.severity, _json(c.labels), c.starts_at)
             for c in changes],
        )  # fmt: skip

    def recent(self, limit: int = 100) -> list[AlertChange]:
        """The newest transitions, newest first."""
        raw = self.db.query(
            "SELECT rule, fingerprint, state, severity, labels, at, starts_at FROM alert_history "
            "ORDER BY id DESC LIMIT %s",
            (limit,),
        )
        return [
            AlertChange(str(rule), str(fp), str(state), severity,
                        dict(_parse(self.db, "alert history", labels)), float(at), float(starts))
            for rule, fp, state, severity, labels, at, starts in raw
        ]  # fmt: skip

    def purge(self, before: float) -> int:
        """Forget transitions older than `before`."""
        return self.db.execute("DELETE FROM alert_history WHERE at < %s", (before,))


class PgAcks:
    """acks: one row per acknowledged alert identity."""

    def __init__(self, db: PgDB) -> None:
        self.db = db

    def all(self) -> list[AckRecord]:
        """Every stored ack, oldest first."""
        raw = self.db.query("SELECT fingerprint, rule, severity, at, by FROM acks ORDER BY at")
        return [AckRecord(str(f), str(r), str(s), float(a), str(b)) for f, r, s, a, b in raw]

    def put(self, ack: AckRecord) -> None:
        """Insert or replace the ack of one identity."""
        self.db.execute(
            "INSERT INTO acks (fingerprint, rule, severity, at, by) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (fingerprint) DO UPDATE SET rule = excluded.rule, "
            "severity = excluded.severity, at = excluded.at, by = excluded.by",
            (ack.fingerprint, ack.rule, ack.severity, ack.at, ack.by),
        )

    def drop(self, fingerprint: str) -> bool:
        """Forget the ack of one identity; True when there was one."""
        return bool(self.db.execute("DELETE FROM acks WHERE fingerprint = %s", (fingerprint,)))


class PgSamples:
    """samples: (series, at) -> value, pruned by age."""

    def __init__(self, db: PgDB) -> None:
        self.db = db

    def add(self, samples: Sequence[Sample]) -> None:
        """Append points (the same series and time replaces the older)."""
        self.db.executemany(
            "INSERT INTO samples (series, at, value) VALUES (%s, %s, %s) "
            "ON CONFLICT (series, at) DO UPDATE SET value = excluded.value",
            [(p.series, p.at, p.value) for p in samples],
        )

    def since(self, after: float) -> list[Sample]:
        """Every point at or after `after`, by series then time."""
        raw = self.db.query(
            "SELECT series, at, value FROM samples WHERE at >= %s ORDER BY series, at", (after,)
        )
        return [Sample(str(s), float(a), float(v)) for s, a, v in raw]

    def purge(self, before: float) -> int:
        """Forget points older than `before`."""
        return self.db.execute("DELETE FROM samples WHERE at < %s", (before,))


class PgRateLimits:
    """One token bucket per notifier in `rate_buckets`, spent under a row lock by any replica."""

    def __init__(self, db: PgDB) -> None:
        self.db = db

    def take(self, notifier: str, messages: int, per: float) -> float:
        """Spend one token and return 0, or return the seconds until one is there (spend none).

        The database's clock refills the bucket, so replicas with skewed clocks share it fairly.
        """
        capacity, rate = float(messages), messages / per
        with self.db.transaction():
            self.db.execute(
                f"INSERT INTO rate_buckets (notifier, tokens, stamp) VALUES (%s, %s, {DB_NOW}) "
                "ON CONFLICT (notifier) DO NOTHING",
                (notifier, capacity),
            )
            tokens, stamp, now = self.db.query(
                f"SELECT tokens, stamp, {DB_NOW} FROM rate_buckets WHERE notifier = %s FOR UPDATE",
                (notifier,),
            )[0]
            tokens = min(capacity, float(tokens) + max(0.0, float(now) - float(stamp)) * rate)
            wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate
            spent = tokens - 1.0 if wait == 0.0 else tokens
            self.db.execute(
                "UPDATE rate_buckets SET tokens = %s, stamp = %s WHERE notifier = %s",
                (spent, max(float(now), float(stamp)), notifier),
            )
        return wait


class PgStore:
    """The `StateStore` of one PostgreSQL database, shared by every replica that opens it."""

    def __init__(self, db: PgDB, config: StateConfig, own: str) -> None:
        self.db = db
        self.path = db.where  # the masked dsn: messages name it, never the password
        self.identity = own
        self.replica = uuid.uuid4().hex[:12]  # this process, as outbox claims name it
        self.outbox = PgOutbox(db, self.replica, config.claim_ttl)
        self.rules = PgRuleStates(db)
        self.silences = PgSilences(db)
        self.cursors = PgCursors(db)
        self.history = PgHistory(db)
        self.rate_limits = PgRateLimits(db)
        self.acks = PgAcks(db)
        self.samples = PgSamples(db)

    @classmethod
    def open(cls, config: StateConfig, *, create: bool = True) -> PgStore:
        """Connect, refuse a foreign, corrupt or newer database, migrate; StateError says why."""
        db = PgDB.open(config.dsn_text, schema=PG_SCHEMA, pool_size=config.pool_size, create=create)
        try:
            return cls(db, config, _identity(db))
        except BaseException:
            db.close()
            raise

    def intact(self) -> str | None:
        """Why writing on would be lost: the database was reset or replaced under this replica.

        A lost connection is not such a reason (it is retried, see pgdb.py): only a database
        that answers without this store's id (state dropped, restored from another backup,
        the dsn moved to another database) stops the replica, as a deleted SQLite file does.
        """
        try:
            rows = self.db.query("SELECT value FROM meta WHERE name = 'id'")
        except StateWriteError:
            return None  # unreachable for now: retried, and the fence decides about leases
        except StateError as exc:
            return f"{exc} (the state was dropped under this replica)"
        found = str(rows[0][0]) if rows else None
        if found == self.identity:
            return None
        now = f"database {found}" if found else "no alertbot state"
        return f"PostgreSQL state {self.path} now holds {now}, not database {self.identity}"

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
        """Hand back this replica's outbox claims (best effort), then close the pool."""
        try:
            self.outbox.release()
        except StateError:
            pass  # unreachable: the claims expire after claim_ttl instead
        finally:
            self.db.close()


def _identity(db: PgDB) -> str:
    """The database's id, created once (as SQLite's; the CLI and `status` name it)."""
    own = uuid.uuid4().hex
    db.execute("INSERT INTO meta (name, value) VALUES ('id', %s) ON CONFLICT DO NOTHING", (own,))
    return str(db.query("SELECT value FROM meta WHERE name = 'id'")[0][0])
