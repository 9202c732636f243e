"""The PostgreSQL database of the shared backend: a small sync pool, schema-versioned, retried.

Why synchronous: the state API (`api.py`) is synchronous and called from the event loop, as
SQLite's is. Each call borrows a pooled connection (autocommit: a single statement is one
round trip; `transaction()` adds BEGIN and COMMIT) for about a millisecond on loopback
(bench/pg_latency.py), the order of SQLite's commit. Moving every store call off the loop
would turn every caller into a coroutine for little gain at that cost. What must never block
the loop is the wait for a database that is gone, so that is bounded: a checkout waits at
most `CHECKOUT_TIMEOUT`, and after a failure every call fails at once (StateWriteError, so
callers keep what they hold) until the backoff says to try again.

Durability: PostgreSQL's defaults (synchronous_commit on, fsync on) make every commit durable
against a crash of the server host, stronger than SQLite's `synchronous=NORMAL`.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from alertbot.core.backoff import Backoff
from alertbot.core.secrets import mask
from alertbot.state.config import masked_dsn
from alertbot.state.db import StateError, StateWriteError

CHECKOUT_TIMEOUT = 0.5  # the longest a call blocks the loop waiting for a pooled connection
CONNECT_TIMEOUT = 5  # seconds, per connection attempt (start-up, and the pool's workers)
MIGRATION_LOCK = 0x616C6572  # pg_advisory_xact_lock key: replicas starting together migrate once
RETRYABLE_STATES = {"40001", "40P01", "55P03"}  # serialization, deadlock, lock not free


@dataclass(frozen=True, slots=True)
class PgSchema:
    """A schema version and its migrations: migrations[i] upgrades version i to i + 1."""

    migrations: tuple[Callable[[psycopg.Connection[Any]], None], ...]

    @property
    def version(self) -> int:
        """The version a database has after every migration."""
        return len(self.migrations)


class PgDB:
    """A connection pool; one connection is held for the span of a (possibly nested) transaction."""

    def __init__(
        self,
        pool: ConnectionPool[psycopg.Connection[Any]],
        where: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pool = pool
        self.where = where  # the masked dsn, for messages
        self._conn: psycopg.Connection[Any] | None = None
        self._clock = clock
        self.backoff = Backoff(initial=0.2, max=10.0)
        self._retry_at = 0.0
        self._last_error = ""
        self.lost_since: float | None = None  # monotonic time of the first failure in a row

    @classmethod
    def open(cls, dsn: str, *, schema: PgSchema, pool_size: int, create: bool = True) -> PgDB:
        """Connect, refuse a foreign or newer database, migrate, then open the pool."""
        where = masked_dsn(dsn)
        try:
            with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT) as conn:
                migrate(conn, schema, where, create=create)
        except psycopg.Error as exc:
            raise StateError(f"cannot open PostgreSQL state {where}: {_text(exc)}") from None
        pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            dsn,
            min_size=1,
            max_size=pool_size,
            open=False,
            timeout=CHECKOUT_TIMEOUT,
            check=_idle_and_open,  # a connection cut while idle is replaced, no round trip
            kwargs={"connect_timeout": CONNECT_TIMEOUT, "autocommit": True},
            reconnect_timeout=365 * 86400.0,  # never give up: the backoff decides when to ask
            name="alertbot-state",
        )
        try:
            pool.open(wait=True, timeout=CONNECT_TIMEOUT * 2)
        except psycopg.Error as exc:
            pool.close()
            raise StateError(f"cannot open PostgreSQL state {where}: {_text(exc)}") from None
        return cls(pool, where)

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction on one pooled connection; nested uses join the outer one."""
        if self._conn is not None:
            yield self._conn
            return
        with self._checkout() as conn:
            self._conn = conn
            try:
                with conn.transaction():
                    yield conn
            finally:
                self._conn = None

    @contextmanager
    def _checkout(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection (autocommit); driver errors become StateError/StateWriteError."""
        self._refuse_while_backing_off()
        try:
            with self.pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise self._failed(exc) from None
        self._reached()

    @contextmanager
    def _statement(self) -> Iterator[psycopg.Connection[Any]]:
        """The open transaction's connection, or one for a single autocommitted statement."""
        if self._conn is not None:
            try:
                yield self._conn
            except psycopg.Error as exc:
                raise self._failed(exc) from None
            return
        with self._checkout() as conn:
            yield conn

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement and return its rows (a read, or a write with RETURNING)."""
        with self._statement() as conn:
            return conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement that writes; return its row count.

        Alone, after a healthy spell, a failure is tried once more at once on a fresh
        connection: a session ended a moment ago may not read as closed yet at checkout. The
        statements run this way (marks, upserts, deletes) may run twice without harm.
        """
        if self._conn is None and self.lost_since is None:
            try:
                return self._execute(sql, params)
            except StateWriteError:
                self._retry_at = 0.0
        return self._execute(sql, params)

    def _execute(self, sql: str, params: Sequence[Any]) -> int:
        with self._statement() as conn:
            return conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many rows, atomically (pipelined by psycopg)."""
        if not rows:
            return
        with self.transaction() as conn:
            try:
                with conn.cursor() as cur:
                    cur.executemany(sql, rows)
            except psycopg.Error as exc:
                raise self._failed(exc) from None

    def close(self) -> None:
        """Close every pooled connection (the last step of shutdown)."""
        self.pool.close()

    def _refuse_while_backing_off(self) -> None:
        now = self._clock()
        if now < self._retry_at:
            raise StateWriteError(
                f"cannot reach PostgreSQL state {self.where} (next try in "
                f"{self._retry_at - now:.1f}s): {self._last_error}"
            )

    def _failed(self, exc: psycopg.Error) -> StateError:
        """A retryable failure starts the backoff; any other is a plain StateError."""
        text = _text(exc)
        if not _retryable(exc):
            return StateError(f"PostgreSQL state {self.where}: {text}")
        now = self._clock()
        if self.lost_since is None:
            self.lost_since = now
        self._retry_at = now + self.backoff.next_delay()
        self._last_error = text
        return StateWriteError(f"cannot reach PostgreSQL state {self.where}: {text}")

    def _reached(self) -> None:
        self.backoff.attempts = 0
        self._retry_at = 0.0
        self.lost_since = None


def _idle_and_open(conn: psycopg.Connection[Any]) -> None:
    """Raise (the pool then discards it) when the server closed an idle connection.

    A server that ends a session (restart, pg_terminate_backend, idle timeout) sends an error
    and closes the socket, so an idle connection's socket is readable only then: a zero-wait
    select costs microseconds where the pool's own check costs a round trip per checkout.
    """
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("connection closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        conn.close()  # closed, the pool discards it and opens another
        raise psycopg.OperationalError("the server closed this idle connection")


def _retryable(exc: psycopg.Error) -> bool:
    """Connection trouble, a full disk, a busy lock or a serialization conflict may pass."""
    return isinstance(exc, psycopg.OperationalError) or exc.sqlstate in RETRYABLE_STATES


def _text(exc: BaseException) -> str:
    """The first line of a driver error, masked (psycopg may quote connection parameters)."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return mask(first)


def migrate(conn: psycopg.Connection[Any], schema: PgSchema, where: str, *, create: bool) -> None:
    """Upgrade step by step under an advisory lock; refuse newer, foreign or corrupt databases."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        version = _version(conn, where)
        if version > schema.version:
            raise StateError(
                f"PostgreSQL state {where} has schema {version}, newer than this alertbot "
                f"understands ({schema.version}); upgrade alertbot or use another database"
            )
        if version == 0 and not create:
            raise StateError(f"no alertbot state in PostgreSQL database {where}")
        for step in range(version, schema.version):
            schema.migrations[step](conn)
            conn.execute(
                "INSERT INTO meta (name, value) VALUES ('schema_version', %s) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (str(step + 1),),
            )


def _version(conn: psycopg.Connection[Any], where: str) -> int:
    """0 for an empty database; the stored version; an error for anything else."""
    tables = {
        str(name)
        for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
    }
    if "meta" not in tables:
        if tables:
            raise StateError(
                f"PostgreSQL database {where} is not an alertbot state database (it holds "
                f"{len(tables)} other table(s)); use an empty database"
            )
        return 0
    rows = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchall()
    text = str(rows[0][0]) if rows else ""
    if not text.isdigit() or int(text) < 1:
        raise StateError(
            f"PostgreSQL state {where} is corrupt (schema version {text or 'missing'}); "
            "restore it from a backup or use an empty database"
        )
    return int(text)
