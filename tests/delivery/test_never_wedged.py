"""Delivery never wedges: hostile Retry-After values, a worker error, a row that cannot be read."""

from __future__ import annotations

import math

import pytest
from pydantic import SecretStr

from alertbot.notify.builtin.http import parse_retry_after
from alertbot.notify.builtin.webhook import WebhookNotifier
from alertbot.notify.config import WebhookConfig
from tests.delivery.conftest import rows
from tests.delivery.fakes import HookServer, Recorder, Reply, note


def webhook(url: str) -> WebhookNotifier:
    return WebhookNotifier("hook", WebhookConfig(url=SecretStr(url)))


def sent(server: HookServer) -> list[str]:
    return [a["fingerprint"] for body in server.log for a in body["alerts"]]


@pytest.mark.parametrize("value", ["inf", "Infinity", "nan", "-5", "1e400", "soon", ""])
def test_retry_after_that_is_not_a_finite_delay_is_no_answer(value):
    assert parse_retry_after(value, now=0.0) is None


def test_retry_after_in_seconds_and_as_a_date():
    assert parse_retry_after("7", now=0.0) == 7.0
    assert parse_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", now=40.0) == 60.0


@pytest.mark.parametrize("value", ["inf", "nan", "-1"])
async def test_a_retry_after_of_inf_backs_off_as_usual(make, db, clock, value):
    with HookServer([Reply(429, {"Retry-After": value}), Reply(200)]) as server:
        delivery = make(webhook(server.url), backoff={"initial": "2s", "max": "1m"})
        delivery.submit(note(1))
        await delivery.start()
        await delivery.stop(timeout=60)
    assert sent(server) == ["fp1", "fp1"]
    assert clock.slept == [1.0]  # the backoff (full jitter, rng 0.5), not forever
    assert rows(db)[0][2] == "sent"
    assert all(math.isfinite(r[0]) for r in db.query("SELECT next_attempt_at FROM outbox"))


async def test_a_huge_retry_after_is_capped_by_max_retry_after(make, db, clock):
    with HookServer([Reply(429, {"Retry-After": "3600"}), Reply(200)]) as server:
        delivery = make(webhook(server.url), max_retry_after="15m")
        delivery.submit(note(1))
        await delivery.start()
        await delivery.stop(timeout=3600)
    assert clock.slept == [900.0]
    assert sent(server) == ["fp1", "fp1"]


async def test_a_stored_next_attempt_of_inf_is_capped_at_start(make, db, clock):
    hook = Recorder("hook")
    delivery = make(hook, max_retry_after="15m")
    delivery.submit(note(1))
    db.execute("UPDATE outbox SET next_attempt_at = ?", (math.inf,))  # as an older version saved
    await delivery.start()
    await delivery.stop(timeout=3600)
    assert clock.slept == [900.0]
    assert hook.ids() == ["fp1"]


async def test_a_worker_survives_an_unexpected_error(make, db, clock, monkeypatch, caplog):
    hook = Recorder("hook")
    delivery = make(hook, backoff={"initial": "2s", "max": "1m"})
    real_due = delivery.outbox.due
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("disk hiccup")
        return real_due(*args, **kwargs)

    monkeypatch.setattr(delivery.outbox, "due", flaky)
    delivery.submit(note(1))
    await delivery.start()
    await delivery.stop(timeout=60)
    assert hook.ids() == ["fp1"]  # delivered after the error, by the same worker
    assert clock.slept[0] == 1.0  # backed off first
    assert "hit an unexpected error, retrying in 1s: RuntimeError: disk hiccup" in caplog.text


async def test_a_row_that_cannot_be_read_is_dead_lettered_not_stuck(make, db, clock):
    hook = Recorder("hook")
    delivery = make(hook)
    delivery.submit(note(1))
    delivery.submit(note(2))
    db.execute("UPDATE outbox SET note = '{broken' WHERE id = 1")
    await delivery.start()
    await delivery.stop(timeout=60)
    assert hook.ids() == ["fp2"]
    (bad, good) = rows(db)
    assert bad[2] == "dead"
    assert "unreadable notification" in bad[5]
    assert good[2] == "sent"
    listed = delivery.outbox.listing(["dead"])
    assert [r.note.title for r in listed] == ["(unreadable notification)"]
