"""Several stores on one real PostgreSQL: disjoint outbox claims, expiring claims, one rate
bucket, schema refusals and upgrades, and connections cut under a store."""

from __future__ import annotations

import asyncio
import threading
import time

import psycopg
import pytest

from alertbot.notify.delivery import Delivery
from alertbot.notify.delivery_config import DeliveryConfig
from alertbot.state import StateError, StateWriteError, open_state
from alertbot.state.api import RuleStateChange
from alertbot.state.pgdb import PgDB, PgSchema
from alertbot.state.pgschema import PG_SCHEMA
from alertbot.state.postgres import PgStore
from tests.delivery.fakes import Recorder, note
from tests.pg import pg_config, terminate

WAIT = 10.0  # the bound of every wait on a condition


def stores(dsn, n=2, **kw):
    return [PgStore.open(pg_config(dsn, **kw)) for _ in range(n)]


def test_two_replicas_claim_disjoint_rows_under_concurrency(pg_dsn):
    a, b = stores(pg_dsn)
    ids = {a.outbox.add(note(i), "hook", 1.0) for i in range(600)}
    got: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def drain(name, store):
        start.wait()
        while rows := store.outbox.due("hook", 7):
            got[name] += [r.id for r in rows]
            store.outbox.mark_sent([r.id for r in rows], 2.0)

    threads = [threading.Thread(target=drain, args=p) for p in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 3)
    assert not set(got["a"]) & set(got["b"])  # no row claimed by both
    assert set(got["a"]) | set(got["b"]) == ids  # and none left behind
    assert len(got["a"]) + len(got["b"]) == len(ids)  # none claimed twice by one either
    assert got["a"]  # both really worked
    assert got["b"]
    assert a.outbox.counts() == {"sent": 600}
    a.close()
    b.close()


def test_a_claim_blocks_others_until_it_expires(pg_dsn):
    a, b = stores(pg_dsn, claim_ttl="300ms")
    first = a.outbox.add(note(1), "hook", 1.0)
    assert [r.id for r in a.outbox.due("hook", 10)] == [first]
    assert b.outbox.due("hook", 10) == []  # a holds it (and is "dead": it never marks it)
    assert [r.id for r in a.outbox.due("hook", 10)] == [first]  # its own claim, renewed
    deadline = time.monotonic() + WAIT
    taken = []
    while not taken and time.monotonic() < deadline:  # the claim expires on the db's clock
        taken = b.outbox.due("hook", 10)
    assert [r.id for r in taken] == [first]
    a.close()
    b.close()


def test_a_clean_close_hands_claims_back_at_once(pg_dsn):
    a, b = stores(pg_dsn, claim_ttl="1h")
    first = a.outbox.add(note(1), "hook", 1.0)
    assert len(a.outbox.due("hook", 10)) == 1
    a.close()
    assert [r.id for r in b.outbox.due("hook", 10)] == [first]
    b.close()


def test_sent_and_dead_rows_are_never_claimed_again(pg_dsn):
    a, b = stores(pg_dsn, claim_ttl="1h")
    ids = [a.outbox.add(note(i), "hook", 1.0) for i in range(3)]
    a.outbox.due("hook", 10)
    a.outbox.mark_sent(ids[:1], 2.0)
    a.outbox.mark_dead(ids[1:2], "refused", 2.0)
    a.outbox.mark_solo(ids[2:], "batch refused", 2.0)  # the claim ends: anyone sends it alone
    assert [r.id for r in b.outbox.due("hook", 10)] == ids[2:]
    a.close()
    b.close()


def test_one_rate_bucket_is_shared_by_every_replica(pg_dsn):
    a, b = stores(pg_dsn)
    assert a.rate_limits.take("hook", 2, 60.0) == 0.0
    assert b.rate_limits.take("hook", 2, 60.0) == 0.0
    wait_a = a.rate_limits.take("hook", 2, 60.0)
    wait_b = b.rate_limits.take("hook", 2, 60.0)
    assert 25.0 < wait_a <= 30.0  # two per minute: the next token in up to 30 s, for anyone
    assert 25.0 < wait_b <= 30.0
    assert b.rate_limits.take("other", 2, 60.0) == 0.0  # per notifier
    a.close()
    b.close()


def test_a_newer_schema_is_refused(pg_dsn):
    open_state("", config=pg_config(pg_dsn)).close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    with pytest.raises(StateError, match="has schema 99, newer than this alertbot"):
        open_state("", config=pg_config(pg_dsn))


def test_a_foreign_database_is_refused(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id INT)")
    with pytest.raises(StateError, match="not an alertbot state database"):
        open_state("", config=pg_config(pg_dsn))


def test_a_corrupt_version_is_refused(pg_dsn):
    open_state("", config=pg_config(pg_dsn)).close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("UPDATE meta SET value = 'x' WHERE name = 'schema_version'")
    with pytest.raises(StateError, match="is corrupt"):
        open_state("", config=pg_config(pg_dsn))


def test_an_unreachable_server_is_a_clear_error_without_the_password(pg_dsn):
    dsn = "postgresql://postgres:Sekr1tPw@127.0.0.1:1/nothing?connect_timeout=2"
    with pytest.raises(StateError) as info:
        open_state("", config=pg_config(dsn))
    assert "cannot open PostgreSQL state postgresql://postgres:***@127.0.0.1:1/" in str(info.value)
    assert "Sekr1tPw" not in str(info.value)


def test_migrations_upgrade_step_by_step_and_keep_rows(pg_dsn):
    store = open_state("", config=pg_config(pg_dsn))
    kept = store.outbox.add(note(1), "hook", 1.0)
    store.close()

    def later(conn):
        conn.execute("ALTER TABLE outbox ADD COLUMN extra TEXT NOT NULL DEFAULT 'x'")

    newer = PgSchema((*PG_SCHEMA.migrations, later))
    PgDB.open(pg_dsn, schema=newer, pool_size=1).close()
    version = str(PG_SCHEMA.version + 1)
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone() == (
            version,
        )
        assert conn.execute("SELECT id, extra FROM outbox").fetchall() == [(kept, "x")]
    with pytest.raises(StateError, match=f"has schema {version}"):  # and this alertbot refuses
        open_state("", config=pg_config(pg_dsn))


def test_cut_connections_are_retried_with_backoff_and_nothing_is_lost(pg_dsn):
    store = open_state("", config=pg_config(pg_dsn))
    written = [store.outbox.add(note(i), "hook", 1.0) for i in range(5)]
    assert terminate(pg_dsn) >= 1
    deadline = time.monotonic() + WAIT
    errors = []
    while True:  # the pool replaces the cut connections; meanwhile writes fail and are kept
        try:
            written.append(store.outbox.add(note(99), "hook", 2.0))
            break
        except StateWriteError as exc:
            errors.append(str(exc))
        assert time.monotonic() < deadline
    assert all("PostgreSQL" in e for e in errors)  # retryable, named, never a crash
    assert [r.id for r in store.outbox.due("hook", 100)] == written
    assert store.outbox.counts() == {"pending": 6}
    store.close()


async def test_two_deliveries_share_one_rate_limit(pg_dsn):
    a, b = stores(pg_dsn)
    paused: list[float] = []
    forever, both_wait = asyncio.Event(), asyncio.Event()

    async def sleep(seconds: float) -> None:  # records the wait; stop() ends it
        paused.append(seconds)
        if len([p for p in paused if p > 20.0]) >= 2:  # both lanes told to wait for a token
            both_wait.set()
        await forever.wait()

    hooks = [Recorder("hook", max_batch=1, rate=(2, 60.0)) for _ in range(2)]
    runs = [Delivery(s, {"hook": h}, DeliveryConfig(), sleep=sleep)
            for s, h in zip((a, b), hooks, strict=True)]  # fmt: skip
    for run in runs:
        for i in range(3):
            run.submit(note(i))
        await run.start()
    await asyncio.wait_for(both_wait.wait(), WAIT)
    assert sum(len(h.batches) for h in hooks) == 2  # two messages a minute, for both together
    for run in runs:
        await run.stop(timeout=0.1)
    assert a.outbox.counts() == {"sent": 2, "pending": 4}
    a.close()
    b.close()


def test_a_take_over_reads_only_the_rows_of_its_scopes(pg_dsn):
    store = open_state("", config=pg_config(pg_dsn))
    rows = [
        RuleStateChange("low", "d", "k1", {"v": 1}, "dydx1a/0"),
        RuleStateChange("low", "d", "k2", {"v": 2}, "dydx1a/1"),
        RuleStateChange("low", "d", "k3", {"v": 3}, "dydx1b/129"),  # a child of parent dydx1b/1
        RuleStateChange("price", "d", "k4", {"v": 4}, "@market"),
        RuleStateChange("conn", "d", "k5", {"v": 5}, ""),  # local
    ]
    store.rules.apply(rows, 1.0)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # a row copied by `state migrate`
        conn.execute(
            "INSERT INTO rule_state (rule, key, digest, value, updated_at) "
            "VALUES ('old', 'k6', 'd', '{\"v\": 6}', 1.0)"
        )
    try:

        def keys(scopes, addresses):
            return sorted(r.key for r in store.rules.load_scopes(scopes, addresses))

        assert keys(["dydx1a/1"], []) == ["k2", "k6"]
        assert keys([], ["dydx1b"]) == ["k3", "k6"]  # a parent's children, by address
        assert keys(["@market", "dydx1a/0"], []) == ["k1", "k4", "k6"]
        assert keys([""], []) == ["k5", "k6"]
        assert len(store.rules.load()) == 6
    finally:
        store.close()
