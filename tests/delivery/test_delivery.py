"""Delivery against a real loopback HTTP server: retries, Retry-After, dead letters, timeouts.

Every test runs on both backends (SQLite and a real PostgreSQL): delivery knows only the API.
The two rate tests time a local bucket on the virtual clock, so they are SQLite's; the shared
bucket of PostgreSQL is tested on real time in tests/state/test_pg_replicas.py.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from alertbot.core.errors import ConfigError
from alertbot.state import open_state
from tests.delivery.conftest import rows, until
from tests.delivery.fakes import Hanging, HookServer, HttpNotifier, Recorder, Reply, Result, note
from tests.pg import pg_config


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """The state store delivery runs on, once per backend."""
    config = pg_config(request.getfixturevalue("pg_dsn")) if request.param != "sqlite" else None
    state = open_state(tmp_path / "state", config=config)
    yield state
    state.close()


@pytest.fixture
def sqlite_only(store):
    if store.rate_limits is not None:
        pytest.skip("a local token bucket on the virtual clock: SQLite's (see the docstring)")


async def test_rows_are_written_before_anything_is_sent(make, db):
    hook = Recorder("hook")
    delivery = make(hook)
    delivery.submit(note(1, notify=("hook",)))
    assert rows(db) == [(1, "hook", "pending", 0, "fp1", "")]
    assert hook.batches == []  # nothing sent before start


async def test_500_then_ok_is_retried_with_backoff(make, db, clock):
    with HookServer([Reply(500), Reply(200)]) as server:
        delivery = make(HttpNotifier("hook", server.url), backoff={"initial": "2s", "max": "1m"})
        delivery.submit(note(1))
        await delivery.start()
        await delivery.stop(timeout=60)
    assert server.ids() == ["fp1", "fp1"]
    assert clock.slept == [1.0]  # full jitter: rng 0.5 x initial 2s
    assert rows(db) == [(1, "hook", "sent", 2, "fp1", "")]
    stats = delivery.status()["notifiers"]["hook"]
    assert (stats["sent"], stats["messages"], stats["failed"], stats["dead"]) == (1, 1, 1, 0)


async def test_429_retry_after_is_honoured(make, db, clock):
    with HookServer([Reply(429, {"Retry-After": "7"}), Reply(200)]) as server:
        delivery = make(HttpNotifier("hook", server.url))
        delivery.submit(note(1))
        await delivery.start()
        await delivery.stop(timeout=60)
    assert server.ids() == ["fp1", "fp1"]
    assert clock.slept == [7.0]
    assert rows(db)[0][2:4] == ("sent", 2)


async def test_permanent_400_is_a_dead_letter_reported_to_the_fallback(make, db):
    ops = Recorder("ops")
    with HookServer([Reply(400)]) as server:
        delivery = make(HttpNotifier("hook", server.url), ops, fallback="ops")
        delivery.submit(note(1))
        await delivery.start()
        await delivery.stop(timeout=60)
    assert server.ids() == ["fp1"]  # a permanent error is not retried
    (_, _, status, attempts, _, error), fallback_row = rows(db)
    assert (status, attempts) == ("dead", 1)
    assert error.startswith("refused: HTTP 400 from http://127.0.0.1")
    assert fallback_row[1:4] == ("ops", "sent", 1)
    assert ops.ids() == ["fp1"]
    assert ops.notes[0].title == "[UNDELIVERED to hook] alert 1"
    assert "refused: HTTP 400" in ops.notes[0].message
    assert delivery.status()["notifiers"]["hook"]["dead"] == 1


async def test_the_fallbacks_own_failures_never_recurse(make, db):
    refused = Result(False, permanent=True, detail="refused")
    hook = Recorder("hook", [refused])
    ops = Recorder("ops", [refused, refused], max_batch=1)
    delivery = make(hook, ops, fallback="ops")
    delivery.submit(note(1, notify=("hook", "ops")))
    await delivery.start()
    await delivery.stop(timeout=60)
    # hook's row dies -> one report to ops; ops' own row and the report die -> nothing more
    assert [(r[1], r[2]) for r in rows(db)] == [("hook", "dead"), ("ops", "dead"), ("ops", "dead")]
    assert len(ops.batches) == 2


async def test_a_hanging_notifier_times_out_and_never_blocks_the_others(make, db):
    slow = Hanging("slow")
    with HookServer() as server:
        delivery = make(slow, HttpNotifier("fast", server.url), timeout="200ms")
        delivery.submit(note(1, notify=("slow", "fast")))
        delivery.submit(note(2, notify=("slow", "fast")))
        await delivery.start()
        await asyncio.to_thread(server.wait_for, 2)
        assert server.ids() == ["fp1", "fp2"]  # while slow is still stuck in its first send
        await until(lambda: len(slow.batches) >= 2)  # timed out, backed off, tried again
        await delivery.stop(timeout=0.5)
    status = delivery.status()["notifiers"]
    assert status["slow"]["failed"] >= 1
    assert status["slow"]["last_error"] == "no answer within 200ms"
    assert (status["slow"]["pending"], status["fast"]["sent"]) == (2, 2)
    assert [r[2] for r in rows(db) if r[1] == "slow"] == ["pending", "pending"]  # kept, not lost


@pytest.mark.usefixtures("sqlite_only")
async def test_burst_of_200_at_one_message_per_second_is_batched(make, db, clock):
    with HookServer() as server:
        hook = HttpNotifier("hook", server.url, max_batch=50, rate=(1, 1.0))
        delivery = make(hook)
        delivery.submit(note(0))
        await delivery.start()
        await asyncio.to_thread(server.wait_for, 1)  # the first goes out alone, at once
        for i in range(1, 200):
            delivery.submit(note(i))
        await delivery.stop(timeout=60)
    assert [len(body["fingerprints"]) for body in server.log] == [1, 50, 50, 50, 49]
    assert server.ids() == [f"fp{i}" for i in range(200)]  # each once, in order
    assert clock.slept == [1.0, 1.0, 1.0, 1.0]  # the rate: 1 message per second
    assert {r[2] for r in rows(db)} == {"sent"}
    assert delivery.status()["notifiers"]["hook"]["messages"] == 5


@pytest.mark.usefixtures("sqlite_only")
async def test_rate_limit_from_config_overrides_the_notifiers(make, clock):
    hook = Recorder("hook", max_batch=1, rate=(100, 1.0))
    delivery = make(hook, rate_limits={"hook": {"messages": 2, "per": "1m"}})
    for i in range(4):
        delivery.submit(note(i))
    await delivery.start()
    await delivery.stop(timeout=3600)
    assert hook.ids() == ["fp0", "fp1", "fp2", "fp3"]
    assert clock.slept == [30.0, 30.0]  # 2 at once, then one every 30s


async def test_max_attempts_makes_a_dead_letter(make, db, clock):
    hook = Recorder("hook", [Result(False, detail="HTTP 503")] * 5)
    delivery = make(hook, max_attempts=3)
    delivery.submit(note(1))
    await delivery.start()
    await delivery.stop(timeout=3600)
    assert hook.ids() == ["fp1"] * 3
    _, _, status, attempts, _, error = rows(db)[0]
    assert (status, attempts) == ("dead", 3)
    assert error.startswith("gave up after 3 attempt(s)")
    assert error.endswith("HTTP 503")


async def test_max_age_makes_a_dead_letter(make, db):
    hook = Recorder("hook", [Result(False, detail="HTTP 503")] * 5)
    delivery = make(hook, max_age="10s", backoff={"initial": "100s", "max": "1h"})
    delivery.submit(note(1))
    await delivery.start()
    await delivery.stop(timeout=3600)
    assert hook.ids() == ["fp1", "fp1"]  # tried at 0s and at 50s (> max_age): dead
    assert rows(db)[0][2:4] == ("dead", 2)


async def test_unknown_notifier_is_dead_at_once_with_a_clear_error(make, db):
    ops = Recorder("ops")
    delivery = make(Recorder("hook"), ops, fallback="ops")
    delivery.submit(note(1, notify=("hook", "pager")))
    dead = [r for r in rows(db) if r[1] == "pager"]
    error = "unknown notifier 'pager' (configured: hook, ops)"
    assert dead == [(2, "pager", "dead", 0, "fp1", error)]
    await delivery.start()
    await delivery.stop(timeout=10)
    assert ops.notes[0].title == "[UNDELIVERED to pager] alert 1"
    assert delivery.status()["unknown_dead"] == 1


async def test_a_refused_batch_is_split_to_find_the_bad_notification(make, db):
    refused = Result(False, permanent=True, detail="HTTP 400")
    hook = Recorder("hook", [refused, Result(True), refused, Result(True)], max_batch=10)
    delivery = make(hook)
    for i in range(3):
        delivery.submit(note(i))
    await delivery.start()
    await delivery.stop(timeout=10)
    assert hook.batches == [["fp0", "fp1", "fp2"], ["fp0"], ["fp1"], ["fp2"]]
    assert [r[2] for r in rows(db)] == ["sent", "dead", "sent"]


async def test_firing_and_resolve_keep_their_order_through_retries(make):
    hook = Recorder("hook", [Result(False, detail="HTTP 502")], max_batch=1)
    delivery = make(hook)
    delivery.submit(note(1))
    delivery.submit(note(1, status="resolved"))
    await delivery.start()
    await delivery.stop(timeout=60)
    assert [(n.fingerprint, n.status) for n in hook.notes] == [
        ("fp1", "firing"), ("fp1", "firing"), ("fp1", "resolved")
    ]  # fmt: skip


async def test_stop_leaves_what_cannot_be_sent_in_time_pending(make, db):
    hook = Recorder("hook", max_batch=1, rate=(1, 60.0))
    delivery = make(hook)
    for i in range(3):
        delivery.submit(note(i))
    await delivery.start()
    await delivery.stop(timeout=10)  # the next token is 60s away
    assert hook.ids() == ["fp0"]
    assert [r[2] for r in rows(db)] == ["sent", "pending", "pending"]
    assert delivery.status()["outbox_depth"] == 2


def test_unknown_names_in_the_delivery_config_are_config_errors(make):
    with pytest.raises(ConfigError) as info:
        make(Recorder("hook"), fallback="ops", rate_limits={"tg": {"messages": 1, "per": "1s"}})
    text = str(info.value)
    assert "delivery.fallback: unknown notifier 'ops'; known: hook" in text
    assert "delivery.rate_limits.tg: unknown notifier 'tg'" in text


async def test_secrets_in_errors_are_masked_in_the_db_status_and_logs(make, db, caplog):
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    url = f"https://user:hunter2@api.example.org/bot{token}/send?chat_id=42&key=s3cr3t"
    hook = Recorder("hook", [Result(False, permanent=True, detail=f"HTTP 401 from {url}")])
    delivery = make(hook)
    delivery.submit(note(1))
    caplog.set_level(logging.DEBUG, logger="alertbot")
    await delivery.start()
    await delivery.stop(timeout=10)
    stored = rows(db)[0][5]
    shown = str(delivery.status())
    for secret in ("hunter2", token, "s3cr3t", "chat_id=42"):
        assert secret not in stored
        assert secret not in shown
        assert secret not in caplog.text
    assert stored == "refused: HTTP 401 from https://***@api.example.org/***/send?***"
