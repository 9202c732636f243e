"""The module's PostgreSQL database (tests/conftest.py) with the lease schema dropped too."""

from __future__ import annotations

import psycopg
import pytest

from alertbot.cluster.leases import NS


@pytest.fixture
def pg_dsn(pg_dsn: str) -> str:
    """Empty: part A's fixture drops the state's tables, this the leases' schema."""
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {NS} CASCADE")
    return pg_dsn
