"""Restarts: acknowledged pairs are never re-sent; alert state returns, so the resolve is sent."""

from __future__ import annotations

from alertbot.notify.delivery import Delivery
from alertbot.notify.delivery_config import DeliveryConfig
from alertbot.state.sqlite import SqliteStore
from tests.delivery.conftest import rows
from tests.delivery.fakes import Clock, Recorder, note
from tests.rules.helpers import brief, engine, ev, run

RULES = "- {name: low, on: account, when: equity < 1000}"


def _delivery(state_dir, notifier, clock) -> Delivery:
    store = SqliteStore.open(state_dir)
    cfg = DeliveryConfig()
    return Delivery(store, {notifier.name: notifier}, cfg, clock=clock, sleep=clock.sleep)


async def test_pending_rows_resume_and_sent_rows_never_repeat(tmp_path):
    clock = Clock()
    first = _delivery(tmp_path, Recorder("ops", max_batch=1, rate=(1, 60.0)), clock)
    for i in range(3):
        first.submit(note(i, notify=("ops",)))
    await first.start()
    await first.stop(timeout=5)  # fp0 sent; fp1, fp2 wait for the rate
    first.store.close()
    again = Recorder("ops", max_batch=10)
    second = _delivery(tmp_path, again, clock)
    await second.start()
    await second.stop(timeout=5)
    assert again.ids() == ["fp1", "fp2"]
    assert [r[2] for r in rows(second.store.db)] == ["sent"] * 3
    second.store.close()


async def test_firing_state_is_restored_no_resend_and_the_resolve_is_sent(tmp_path):
    clock = Clock()
    eng = engine(RULES)
    before = Recorder("ops")
    first = _delivery(tmp_path, before, clock)
    notes = run(eng, [(0, ev("account", equity=900))], 5)
    assert brief(notes) == [(0, "low", "firing")]
    first.submit_many(notes, changes=eng.drain_state())  # rows and state: one transaction
    await first.start()
    await first.stop(timeout=5)
    first.store.close()
    assert [n.status for n in before.notes] == ["firing"]

    after = Recorder("ops")  # the restart: a new engine, a new delivery, the same state dir
    second = _delivery(tmp_path, after, clock)
    restarted = engine(RULES)
    assert restarted.restore(second.store.rules.load())
    await second.start()
    notes = run(restarted, [(50, ev("account", equity=900))], 55)
    assert notes == []  # still firing, already told: nothing re-sent
    notes = run(restarted, [(60, ev("account", equity=2000))], 61)
    assert brief(notes) == [(60, "low", "resolved")]
    second.submit_many(notes, changes=restarted.drain_state())
    await second.stop(timeout=5)
    assert [n.status for n in after.notes] == ["resolved"]
    second.store.close()


async def test_a_crash_before_sending_sends_from_the_outbox_not_the_engine(tmp_path):
    """Killed right after submit: the outbox sends the firing once; the engine never repeats it."""
    clock = Clock()
    eng = engine(RULES)
    crashed = _delivery(tmp_path, Recorder("ops"), clock)
    crashed.submit_many(run(eng, [(0, ev("account", equity=900))], 1), changes=eng.drain_state())
    crashed.store.close()  # never started: nothing was sent

    after = Recorder("ops")
    second = _delivery(tmp_path, after, clock)
    restarted = engine(RULES)
    restarted.restore(second.store.rules.load())
    assert run(restarted, [(10, ev("account", equity=900))], 20) == []
    await second.start()
    await second.stop(timeout=5)
    assert [(n.rule, n.status) for n in after.notes] == [("low", "firing")]
    second.store.close()
