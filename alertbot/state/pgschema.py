"""The PostgreSQL schema and its migrations: PG_SCHEMA.migrations[i] upgrades version i to i + 1.

Version 1: the tables of SQLite's version 3 (outbox, rule_state, silences, counters, cursors,
alert_history, meta), plus what sharing needs: an outbox claim per row (`claimed_by`,
`claimed_until`, so several replicas deliver from one outbox) and `rate_buckets` (one token
bucket per notifier shared by every replica). The version lives in `meta` (`schema_version`).
Version 2: acks and samples (SQLite's version 4: acknowledged alerts, the dashboard's equity).
Version 3: `rule_state.scope`, whose identity a row is (a subaccount, the market, local), with
indexes, so a replica taking shards over reads only their rows (older rows keep NULL: read
with every take-over until rewritten). SQLite has no such column: it never serves a cluster.
"""

from __future__ import annotations

from typing import Any

import psycopg

from alertbot.state.pgdb import PgSchema

PG_SCHEMA_VERSION = 3

V1 = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    notifier TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    solo BOOLEAN NOT NULL DEFAULT FALSE,
    fallback BOOLEAN NOT NULL DEFAULT FALSE,
    rule TEXT NOT NULL,
    alert_status TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    title TEXT NOT NULL,
    note TEXT NOT NULL,
    claimed_by TEXT,
    claimed_until DOUBLE PRECISION
);
CREATE INDEX outbox_queue ON outbox (status, notifier, id);
CREATE TABLE rule_state (
    rule TEXT NOT NULL,
    key TEXT NOT NULL,
    digest TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (rule, key)
);
CREATE TABLE silences (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    labels TEXT NOT NULL,
    starts_at DOUBLE PRECISION NOT NULL,
    ends_at DOUBLE PRECISION NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL DEFAULT '',
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE alert_history (
    id BIGSERIAL PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
    rule TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    severity TEXT NOT NULL,
    labels TEXT NOT NULL,
    starts_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX alert_history_at ON alert_history (at);
CREATE TABLE rate_buckets (
    notifier TEXT PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    stamp DOUBLE PRECISION NOT NULL
)
"""


def script(conn: psycopg.Connection[Any], sql: str) -> None:
    """Run each `;`-separated statement (a migration's DDL)."""
    for statement in (part.strip() for part in sql.split(";")):
        if statement:
            conn.execute(statement)


def _v1(conn: psycopg.Connection[Any]) -> None:
    script(conn, V1)


V2 = """
CREATE TABLE acks (
    fingerprint TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE samples (
    series TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (series, at)
);
CREATE INDEX samples_at ON samples (at)
"""


def _v2(conn: psycopg.Connection[Any]) -> None:
    """Two new, empty tables: nothing older to convert."""
    script(conn, V2)


V3 = """
ALTER TABLE rule_state ADD COLUMN scope TEXT;
CREATE INDEX rule_state_scope ON rule_state (scope);
CREATE INDEX rule_state_address ON rule_state (split_part(scope, '/', 1))
"""


def _v3(conn: psycopg.Connection[Any]) -> None:
    """A nullable column: existing rows stay readable, their scope unknown until rewritten."""
    script(conn, V3)


PG_SCHEMA = PgSchema((_v1, _v2, _v3))
assert PG_SCHEMA.version == PG_SCHEMA_VERSION
