"""The state database: one SQLite file per state_dir, WAL mode, schema-versioned, opened once.

The schema and its migrations are in `alertbot.state.schema`; this module only runs them.

Durability choice: WAL with `synchronous=NORMAL` by default. A commit is then safe against a
crash or SIGKILL of the process (the WAL is in the OS page cache); only a power loss or a kernel
crash can roll back the last few commits. Because the outbox and the alert state commit in the
same transaction, such a rollback leaves them consistent: the engine state goes back to "not yet
notified" together with the outbox row, so the alert is notified again (a duplicate, never a
loss). `FULL` fsyncs every commit, for hosts where even that must not happen; it costs one fsync
per commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from alertbot.core.errors import AlertbotError

DB_FILE = "alertbot.db"
BUSY_TIMEOUT_MS = 5000  # `alertbot outbox retry` may write while `alertbot run` holds the lock
# The write-ahead log is checkpointed every WAL_PAGES pages (SQLite's default, 1000, is 4 MiB: a
# small volume fills before it is reached) and truncated to WAL_BYTES after each checkpoint.
WAL_PAGES = 256
WAL_BYTES = 1 << 20

# Error codes that a retry may cure (the data is kept and written later).
_RETRYABLE = {"SQLITE_FULL", "SQLITE_IOERR", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_READONLY"}


class StateError(AlertbotError):
    """The state database cannot be opened or used; the message names the file."""


class StateWriteError(StateError):
    """A write failed for a reason that may pass (disk full, I/O error, locked): keep and retry."""


class DiskFull(StateWriteError):
    """The volume (or the database's page cap) is full: the write-ahead log gives space back."""


def _code(exc: sqlite3.Error) -> str:
    return str(getattr(exc, "sqlite_errorname", "") or "")


After = Callable[[], None] | None  # a file action a migration runs after its commit


@dataclass(frozen=True, slots=True)
class Schema:
    """A schema version and its migrations: migrations[i] upgrades version i to i + 1."""

    migrations: tuple[Callable[[StateDB], After], ...]

    @property
    def version(self) -> int:
        """The version a database has after every migration."""
        return len(self.migrations)


class StateDB:
    """One connection to state_dir/alertbot.db, shared by every part of the SQLite store."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._depth = 0

    @classmethod
    def open(
        cls,
        state_dir: str | Path,
        *,
        schema: Schema,
        synchronous: Literal["normal", "full"] = "normal",
        create: bool = True,
    ) -> StateDB:
        """Open (and create or upgrade to `schema`) the database; StateError names the file."""
        path = Path(state_dir) / DB_FILE
        if not create and not path.exists():
            raise StateError(f"no state database at {path}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(
                f"cannot create state directory {path.parent}: {exc.strerror}"
            ) from None
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise StateError(f"cannot open state database {path}: {exc}") from None
        db = cls(conn, path)
        try:
            db._refuse_unknown(schema)  # before anything writes (WAL mode changes the header)
            db._configure(synchronous)
            db._migrate(schema)
        except BaseException:
            conn.close()
            raise
        return db

    def _configure(self, synchronous: str) -> None:
        try:
            mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self.conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self.conn.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES}")
            self.conn.execute(f"PRAGMA journal_size_limit={WAL_BYTES}")
        except sqlite3.Error as exc:
            raise self._error("cannot open", exc) from None
        if str(mode).lower() != "wal":
            raise StateError(f"state database {self.path}: cannot use WAL mode (got {mode})")

    def _refuse_unknown(self, schema: Schema) -> None:
        """A newer schema, a foreign database or a non-database: an error, never a reset."""
        version = int(self.query("PRAGMA user_version")[0][0])
        if version > schema.version:
            raise StateError(
                f"state database {self.path} has schema {version}, newer than this alertbot "
                f"understands ({schema.version}); upgrade alertbot or move the file aside"
            )
        if version == 0 and self.query("SELECT name FROM sqlite_master WHERE type = 'table'"):
            raise StateError(f"{self.path} is not an alertbot state database; move it aside")

    def _migrate(self, schema: Schema) -> None:
        version = int(self.query("PRAGMA user_version")[0][0])
        for step in range(version, schema.version):
            with self.transaction():
                after = schema.migrations[step](self)
                self.execute(f"PRAGMA user_version = {step + 1}")
            if after is not None:
                after()  # file moves that must wait for the commit

    def script(self, sql: str) -> None:
        """Run each `;`-separated statement (a migration's DDL)."""
        for statement in _statements(sql):
            self.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT; nested uses join the outer transaction (atomic together)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._run("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
            self._run("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:
                self.conn.rollback()
            if isinstance(exc, DiskFull):
                self.reclaim()
            raise
        finally:
            self._depth = 0

    def reclaim(self) -> bool:
        """Checkpoint and truncate the write-ahead log, giving its space back to a full disk.

        Without it the log only grows while writes fail, and takes any space that is freed.
        """
        try:
            busy = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.Error:
            return False
        return not busy

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement that writes; errors become StateError / StateWriteError."""
        return self._run(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many rows (inside a transaction)."""
        try:
            self.conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise self._error("cannot write", exc) from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read and return every row."""
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._error("cannot read", exc) from None

    def close(self) -> None:
        """Close the connection (the last step of shutdown)."""
        self.conn.close()

    def _run(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.Error as exc:
            error = self._error("cannot write", exc)
            if isinstance(error, DiskFull) and not self._depth:
                self.reclaim()  # a write of its own (a transaction reclaims at its end)
            raise error from None

    def _error(self, what: str, exc: sqlite3.Error) -> StateError:
        code = _code(exc)
        if code == "SQLITE_FULL":
            return DiskFull(f"{what} state database {self.path}: {exc} ({code})")
        if code in _RETRYABLE:
            return StateWriteError(f"{what} state database {self.path}: {exc} ({code})")
        if code in {"SQLITE_NOTADB", "SQLITE_CORRUPT"}:
            return StateError(
                f"state database {self.path} is corrupt or not a database ({exc}); "
                "move it aside to start with empty state (outbox, alerts, silences)"
            )
        return StateError(f"{what} state database {self.path}: {exc}")


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]
