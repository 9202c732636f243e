"""A PostgreSQL database of its own for each test (created, then dropped); skipped without a
server, unless ALERTBOT_REQUIRE_PG=1 (CI), where a missing server fails the test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

SERVER = os.environ.get("ALERTBOT_TEST_PG", "host=127.0.0.1 port=5432 user=postgres")


def _admin() -> psycopg.Connection:
    return psycopg.connect(f"{SERVER} dbname=postgres", autocommit=True, connect_timeout=3)


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    """The DSN of a fresh, empty database, dropped after the test."""
    try:
        admin = _admin()
    except psycopg.OperationalError as exc:
        if os.environ.get("ALERTBOT_REQUIRE_PG") == "1":
            pytest.fail(f"ALERTBOT_REQUIRE_PG=1 but no PostgreSQL at {SERVER}: {exc}")
        pytest.skip(f"no PostgreSQL reachable at {SERVER}")
    name = f"alertbot_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{SERVER} dbname={name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
