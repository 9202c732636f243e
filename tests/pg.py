"""A real PostgreSQL for tests: one throwaway database per test module, dropped afterwards.

The server is the machine's (127.0.0.1:5432, trust auth, user postgres; ALERTBOT_TEST_PG
overrides the admin dsn). Unreachable: the tests skip, and the summary says so in one line;
with ALERTBOT_REQUIRE_PG=1 (CI, `.ci/run`) they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from alertbot.state.config import StateConfig

ADMIN_DSN = os.environ.get("ALERTBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_ENV = "ALERTBOT_REQUIRE_PG"
SKIP_REASON = "PostgreSQL tests skipped: no server at"


def _admin() -> psycopg.Connection:
    return psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=3)


def reachable() -> str | None:
    """None when the server answers, else why not (one line)."""
    try:
        with _admin():
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


def need_server() -> None:
    """Skip (or fail, when CI requires the server) unless PostgreSQL answers."""
    why = reachable()
    if why is None:
        return
    message = f"{SKIP_REASON} {ADMIN_DSN} ({why})"
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{message}; {REQUIRE_ENV} is set, so this is a failure", pytrace=False)
    pytest.skip(message)


@contextmanager
def database() -> Iterator[str]:
    """A new, empty database with a random name; its dsn; dropped (connections cut) at the end."""
    need_server()
    name = f"alertbot_test_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with _admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty(dsn: str) -> None:
    """Drop every table (one database serves a module; each test starts empty)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def terminate(dsn: str) -> int:
    """Cut every connection to the database of `dsn` (pg_terminate_backend); return how many."""
    name = dsn.rsplit("/", 1)[1]
    with _admin() as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return sum(1 for (ok,) in rows if ok)


def pg_config(dsn: str, **kw: object) -> StateConfig:
    """The `state:` section that points at a test database."""
    return StateConfig.model_validate({"backend": "postgresql", "dsn": dsn, **kw})
