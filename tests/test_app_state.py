"""The running app's state wires: rule state commits with notifications, flushes on the tick, and
silences written by another process (`alertbot silence add`) reach the engine."""

from __future__ import annotations

import asyncio
import io
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from alertbot.app import App
from alertbot.config_load import parse_config
from alertbot.rules import SilenceStore
from alertbot.sim import SimSettings, Simulator, load_scenario
from alertbot.state import DB_FILE, open_state
from tests.test_cli import ACC

WITHIN = 10.0


@asynccontextmanager
async def running(state_dir: Path, rules: str) -> AsyncIterator[App]:
    """An app on the simulator's demo scenario, stopped on exit."""
    async with Simulator(load_scenario("demo"), SimSettings(block_interval=0.1)) as sim:
        text = f"""
source: {{ws_url: "{sim.ws_url}", rest_url: "{sim.rest_url}", subaccounts: [{ACC}]}}
state_dir: {state_dir}
http: {{enabled: false}}
notifiers: {{console: {{type: console}}}}
rules:
{rules}
"""
        app = App(parse_config(text, "rules.yaml", env={}), config_path=state_dir / "r.yaml",
                  out=io.StringIO())  # fmt: skip
        task = asyncio.create_task(app.run())
        try:
            async with asyncio.timeout(WITHIN):
                await app.ready.wait()
            yield app
        finally:
            app.stop()
            await asyncio.wait_for(task, 15)


def snapshot(state_dir: Path, rule: str) -> tuple[int, int]:
    """(outbox rows, rule_state rows) of `rule`, read in one transaction by another connection."""
    conn = sqlite3.connect(f"file:{state_dir / DB_FILE}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("BEGIN")
        outbox = conn.execute("SELECT COUNT(*) FROM outbox WHERE rule = ?", (rule,)).fetchone()
        rows = conn.execute("SELECT COUNT(*) FROM rule_state WHERE rule = ?", (rule,)).fetchone()
        conn.execute("COMMIT")
    finally:
        conn.close()
    return int(outbox[0]), int(rows[0])


async def until(predicate: Callable[[], bool]) -> None:
    """Poll (bounded) for what the app's own tasks make true."""
    async with asyncio.timeout(WITHIN):
        while not predicate():  # noqa: ASYNC110 - the app's tasks change it
            await asyncio.sleep(0.001)


async def test_rule_state_commits_in_the_transaction_of_its_notification(tmp_path):
    state_dir = tmp_path / "state"
    seen: list[tuple[int, int]] = []
    rules = "  - {name: seen, on: account, when: equity > 0, notify: [console]}"
    async with running(state_dir, rules):

        def notified() -> bool:
            seen.append(snapshot(state_dir, "seen"))
            return seen[-1][0] > 0

        await until(notified)
    assert seen[-1] == (1, 1)  # the outbox row never visible without the alert's state


async def test_rule_state_without_notifications_is_flushed_by_the_tick(tmp_path):
    state_dir = tmp_path / "state"
    rules = "  - {name: slow, on: account, when: equity > 0, for: 1h, notify: [console]}"
    async with running(state_dir, rules):
        await until(lambda: snapshot(state_dir, "slow") == (0, 1))  # pending, saved while running
    store = open_state(state_dir)
    assert [c.state for c in store.history.recent()] == ["pending"]
    store.close()


async def test_a_silence_added_by_another_process_reaches_the_running_engine(tmp_path):
    state_dir = tmp_path / "state"
    rules = "  - {name: seen, on: account, when: equity > 0, notify: [console]}"
    async with running(state_dir, rules) as app:
        assert app.engine.silences.match("seen", {}, time.time()) is None
        cli = open_state(state_dir)  # what `alertbot silence add` does
        silence = SilenceStore().add("seen", {}, 3600, time.time(), id="cli1")
        cli.silences.put(silence.to_record(), time.time())
        cli.close()
        await until(lambda: app.engine.silences.match("seen", {}, time.time()) is not None)
