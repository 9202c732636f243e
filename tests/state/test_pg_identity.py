"""A replica stops when its PostgreSQL state is reset or replaced under it, not when it is lost."""

from __future__ import annotations

import psycopg

from alertbot.state import open_state
from tests.pg import pg_config, terminate


def test_a_replaced_or_dropped_state_is_told(pg_dsn):
    store = open_state("", config=pg_config(pg_dsn))
    try:
        assert store.intact() is None
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("UPDATE meta SET value = 'restored-elsewhere' WHERE name = 'id'")
        assert "now holds database restored-elsewhere" in (store.intact() or "")
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM meta WHERE name = 'id'")
        assert "now holds no alertbot state" in (store.intact() or "")
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("DROP TABLE meta")
        assert "dropped under this replica" in (store.intact() or "")
    finally:
        store.close()


def test_a_cut_connection_is_retried_not_a_reason_to_stop(pg_dsn):
    store = open_state("", config=pg_config(pg_dsn))
    try:
        assert terminate(pg_dsn) >= 1
        assert store.intact() is None  # the cut: retried at once, or backing off
        assert store.intact() is None
    finally:
        store.close()
