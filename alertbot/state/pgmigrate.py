"""Copy a SQLite state dir into PostgreSQL: the pending outbox, rule state, silences, cursors,
history; row ids kept (so `alertbot outbox retry ID` still names the same row)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from alertbot.state.config import StateConfig, masked_dsn
from alertbot.state.db import StateError
from alertbot.state.pgdb import PgDB
from alertbot.state.pgschema import PG_SCHEMA
from alertbot.state.sqlite import SqliteStore

# (table, columns, the column holding SQLite 0/1 booleans); order = copy order
TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("outbox", ("id", "notifier", "status", "attempts", "next_attempt_at", "last_error",
                "created_at", "updated_at", "solo", "fallback", "rule", "alert_status",
                "fingerprint", "title", "note")),
    ("rule_state", ("rule", "key", "digest", "value", "updated_at")),
    ("silences", ("id", "rule", "labels", "starts_at", "ends_at", "comment", "created_by",
                  "updated_at")),
    ("counters", ("name", "value")),
    ("cursors", ("name", "value", "updated_at")),
    ("alert_history", ("id", "at", "rule", "fingerprint", "state", "severity", "labels",
                       "starts_at")),
    ("acks", ("fingerprint", "rule", "severity", "at", "by")),
    ("samples", ("series", "at", "value")),
)  # fmt: skip
BOOLEANS = {"solo", "fallback"}
SERIALS = ("outbox", "alert_history")  # their id sequences continue after the copied ids


def migrate_to_postgres(
    state_dir: str | Path, config: StateConfig, *, replace: bool = False
) -> dict[str, int]:
    """Rows copied per table; a target holding state is refused unless `replace` empties it."""
    source = SqliteStore.open(state_dir, create=False, exclusive="migrating it")
    try:
        rows = {table: source.db.query(f"SELECT {', '.join(cols)} FROM {table}")
                for table, cols in TABLES}  # fmt: skip
    finally:
        source.close()
    PgDB.open(config.dsn_text, schema=PG_SCHEMA, pool_size=1).close()  # create or upgrade
    try:
        with psycopg.connect(config.dsn_text) as conn, conn.transaction():
            _make_room(conn, config, replace=replace)
            for table, cols in TABLES:
                _copy(conn, table, cols, rows[table])
            for table in SERIALS:
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                )
    except psycopg.Error as exc:
        raise StateError(f"cannot copy into PostgreSQL: {str(exc).splitlines()[0]}") from None
    return {table: len(rows[table]) for table, _ in TABLES}


def _make_room(conn: psycopg.Connection[Any], config: StateConfig, *, replace: bool) -> None:
    held = {
        table: int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # type: ignore[index]
        for table, _ in TABLES
    }
    if not any(held.values()):
        return
    if not replace:
        what = ", ".join(f"{n} {t}" for t, n in held.items() if n)
        raise StateError(
            f"PostgreSQL state {masked_dsn(config.dsn_text)} is not empty ({what}); "
            "pass --replace to empty it first (every replica using it must be stopped)"
        )
    names = ", ".join(t for t, _ in TABLES)
    conn.execute(f"TRUNCATE {names}, rate_buckets RESTART IDENTITY")


def _copy(
    conn: psycopg.Connection[Any], table: str, cols: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    flags = [i for i, c in enumerate(cols) if c in BOOLEANS]
    fixed = [tuple(bool(v) if i in flags else v for i, v in enumerate(r)) for r in rows]
    marks = ", ".join("%s" for _ in cols)
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", fixed)
