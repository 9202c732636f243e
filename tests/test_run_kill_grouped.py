"""The issue's repro: fills waiting in a group survive a SIGKILL (alertbot run, real processes).

Four fills 0.5 s apart with the default 5 s group_interval: the first is told at once, the other
three wait in the group. SIGKILL 2 s after the last one, restart: the sink gets every fill, and
the first one only once.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from alertbot import app as app_module
from alertbot.sim import SimSettings, Simulator, load_scenario
from tests.apphelpers import running, write_config
from tests.notify.fakes import FakeHttp
from tests.test_cli import ACC, TIMEOUT, lines_until, start, stop


def rules(path: Path, sim: Simulator, hook: str) -> Path:
    path.write_text(
        f"""
version: 1
source:
  ws_url: {sim.ws_url}
  rest_url: {sim.rest_url}
  subaccounts: [{ACC}]
  markets: [BTC-USD]
state_dir: {path.parent / "state"}
http: {{enabled: false}}
notifiers:
  console: {{type: console}}
  hook: {{type: webhook, url: "{hook}"}}
rules:
  - name: account-seen
    on: account
    when: equity > 0
    notify: [console]
    title: "Watching {{{{ address }}}}"
  - name: filled
    on: fill
    notify: [hook]
    title: "Fill {{{{ id }}}}"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(load_scenario("demo"), SimSettings(block_interval=0.2)) as simulator:
        yield simulator


def told(hook: FakeHttp) -> list[str]:
    """Every fill title the sink received, in order (a grouped message lists its members)."""
    return [
        member["title"]
        for request in hook.requests
        if request.method == "POST"
        for alert in request.json()["alerts"]
        for member in alert["members"] or [alert]
    ]


def untold_rows(db: Path) -> int:
    """Fills accepted by the engine, waiting in their group, as saved in the state database."""
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        query = "SELECT count(*) FROM rule_state WHERE rule = 'filled' AND value LIKE '%untold%'"
        return int(conn.execute(query).fetchone()[0])


async def until(predicate, what: str) -> None:
    try:
        async with asyncio.timeout(TIMEOUT):
            while not predicate():  # noqa: ASYNC110 - another process's state, bounded
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_fills_waiting_in_a_group_survive_sigkill(sim, tmp_path):
    hook = FakeHttp()
    await hook.start()
    try:
        config = rules(tmp_path / "rules.yaml", sim, hook.url())
        first = await start("run", "-c", str(config))
        await lines_until(first, lambda line: line.startswith("account-seen · since"))
        fills = []
        for i in range(4):
            if i:
                await asyncio.sleep(0.5)  # the scenario's pace, not a synchronisation
            fills.append(sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900)))
            if i == 0:
                await until(lambda: len(told(hook)) == 1, "the first fill, told at once")
        last = time.monotonic()
        db = tmp_path / "state" / "alertbot.db"
        await until(lambda: untold_rows(db) == 3, "three fills durable in their group")
        await asyncio.sleep(max(0.0, last + 2.0 - time.monotonic()))  # the repro: 2 s after
        assert told(hook) == [f"Fill {fills[0]}"]  # the group has not flushed: they wait
        first.send_signal(signal.SIGKILL)
        await first.wait()
        second = await start("run", "-c", str(config))
        try:
            await until(lambda: len(told(hook)) >= 4, "every fill")
        finally:
            assert await stop(second) == 0
    finally:
        await hook.stop()
    assert sorted(told(hook)) == sorted(f"Fill {fill}" for fill in fills)  # each exactly once
    assert untold_rows(db) == 0


async def test_each_consumed_batch_is_durable_without_waiting_for_the_tick(
    sim, sink, tmp_path, monkeypatch
):
    monkeypatch.setattr(app_module, "TICK", 3600.0)  # engine time never passes in this test
    rules_text = '  - {name: filled, on: fill, notify: [hook], title: "Fill {{ id }}"}\n'
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), rules_text)
    db = tmp_path / "state" / "alertbot.db"
    async with running(path) as run:
        await until(lambda: run.app.events["account"] > 0, "the subaccount's snapshot")
        first = sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900))
        await until(lambda: told(sink) == [f"Fill {first}"], "the first fill, told at once")
        for _ in range(3):
            sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900))
        await until(lambda: untold_rows(db) == 3, "the waiting fills, saved per batch")
