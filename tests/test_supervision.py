"""`alertbot run` under supervision: a failed task stops the run non-zero, nothing accepted lost."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from alertbot import cli
from alertbot.core.tasks import TaskFailed, Tasks
from alertbot.notify.delivery import Delivery
from alertbot.rules.engine import Engine
from alertbot.source.client import IndexerSource
from tests.apphelpers import TIMEOUT, Run, running, until, write_config
from tests.notify.fakes import Request
from tests.test_cli import ACC

RULES = """
  - name: account-seen
    on: account
    when: equity > 0
    title: "Watching {{ address }}"
"""


def fingerprints(requests: list[Request]) -> list[str]:
    return [a["fingerprint"] for r in requests for a in r.json()["alerts"]]


async def test_tasks_report_the_first_failure_by_name():
    tasks = Tasks()

    async def boom() -> None:
        raise ValueError("bad")

    tasks.spawn(asyncio.Event().wait(), "idle")
    tasks.spawn(boom(), "worker-1")
    with pytest.raises(TaskFailed, match="task worker-1 failed: ValueError: bad"):
        await asyncio.wait_for(tasks.failure(), TIMEOUT)
    await tasks.cancel()
    assert not tasks.running


async def crash_the_engine_after_a_failed_delivery(path: Path, sim, sink) -> Run:
    """Run until the first delivery failed, then make the engine raise on the next event."""
    async with running(path) as run:
        await until(lambda: sink.requests, "the first (failing) delivery")

        def crash(event: object, now: float) -> list:
            raise RuntimeError("injected")

        run.app.engine.process = crash  # type: ignore[method-assign]  # the injected fault
        sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900))  # an event
        await run.ended()
    return run


async def test_engine_crash_stops_the_run_and_a_restart_delivers_what_was_pending(
    sim, sink, tmp_path
):
    sink.default = (500, {}, b"down")  # the alert is accepted, then waits in the outbox
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), RULES, backoff="1s")
    with pytest.raises(TaskFailed) as failed:
        await crash_the_engine_after_a_failed_delivery(path, sim, sink)
    assert failed.value.task == "engine"
    assert "injected" in str(failed.value)
    told = fingerprints(sink.requests)
    assert len(set(told)) == 1  # only the one alert, tried and failed

    sink.default = (200, {}, b"ok")
    sink.requests.clear()
    async with running(path):
        await until(lambda: sink.requests, "the pending alert, after the restart")
    assert fingerprints(sink.requests) == [told[0]]  # delivered once, not fired again


async def test_a_dead_source_task_stops_the_run(sim, sink, tmp_path, monkeypatch):
    async def broken_ticker(self: IndexerSource) -> None:
        raise OSError("injected")

    monkeypatch.setattr(IndexerSource, "_ticker", broken_ticker)
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), RULES)
    with pytest.raises(TaskFailed, match="alertbot-source-ticker failed: OSError: injected"):
        async with running(path) as run:
            await run.ended()


async def test_a_dead_delivery_worker_stops_the_run(sim, sink, tmp_path, monkeypatch):
    async def broken_lane(self: Delivery, lane: object) -> None:
        raise KeyError("injected")

    monkeypatch.setattr(Delivery, "_lane_loop", broken_lane)
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), RULES)
    with pytest.raises(TaskFailed, match="alertbot-delivery-hook failed: KeyError"):
        async with running(path) as run:
            await run.ended()


async def test_run_command_exits_1_with_one_error_line(sim, sink, tmp_path, monkeypatch, caplog):
    def crash(self: Engine, event: object, now: float) -> list:
        raise RuntimeError("injected")

    monkeypatch.setattr(Engine, "process", crash)
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), RULES)
    monkeypatch.setattr(cli, "setup_logging", lambda *a: None)  # keep pytest's capture
    with caplog.at_level(logging.ERROR, logger="alertbot"):
        code = await asyncio.to_thread(cli.main, ["run", "-c", str(path)])
    assert code == cli.EXIT_CRASHED == 1
    (record,) = [r for r in caplog.records if r.name == "alertbot" and "stopped:" in r.message]
    assert record.getMessage().splitlines() == [
        "stopped: task engine failed: RuntimeError: injected; exit 1"
    ]
