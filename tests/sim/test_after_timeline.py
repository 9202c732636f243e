"""After its timeline the simulator keeps the market feed alive (oracle heartbeat), as the Indexer
does: the shipped dead man's switch on market data (`markets-silent`) must not fire falsely.

Scaled: the timeline at 100x, the switch at 1s instead of 2m, the heartbeat at 0.1s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from alertbot.sim import ORACLE_INTERVAL, SimSettings, Simulator, load_scenario, simulate_settings
from tests.apphelpers import running, until, write_config
from tests.notify.fakes import FakeHttp

SWITCH = """  - name: markets-silent        # the shipped rule, with `absent` scaled from 2m to 1s
    on: market
    absent: 1s
    group_by: []
    severity: critical
    title: "No market data for {{ alert.silent_for }}"
"""


def told(sink: FakeHttp) -> list[str]:
    return [a["rule"] for r in sink.requests if r.method == "POST" for a in r.json()["alerts"]]


async def play_then_idle(sim: Simulator, sink: FakeHttp, tmp_path) -> None:
    """Play the demo timeline against a running bot, then idle for 2.5 absent periods."""
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), SWITCH)
    async with running(path) as run:
        await until(lambda: run.app.events["market"] > 0, "the first market data")
        await sim.play()
        seen = run.app.events["market"]
        interval = sim.settings.oracle_interval
        if interval > 0:  # wait on market events themselves: 25 heartbeats is 2.5 s
            await until(lambda: run.app.events["market"] >= seen + 25, "heartbeats")
        else:
            await until(lambda: "markets-silent" in told(sink), "the switch to fire")


@pytest.fixture
async def sink() -> AsyncIterator[FakeHttp]:
    http = FakeHttp()
    await http.start()
    yield http
    await http.stop()


async def test_the_feed_stays_alive_after_the_timeline_and_nothing_false_fires(sink, tmp_path):
    settings = SimSettings(block_interval=0.1, time_scale=100, oracle_interval=0.1)
    async with Simulator(load_scenario("demo"), settings) as sim:
        await play_then_idle(sim, sink, tmp_path)
    assert "markets-silent" not in told(sink)


async def test_without_the_heartbeat_the_switch_fires_after_the_timeline(sink, tmp_path):
    settings = SimSettings(block_interval=0.1, time_scale=100, oracle_interval=0)
    async with Simulator(load_scenario("demo"), settings) as sim:
        await play_then_idle(sim, sink, tmp_path)
    assert "markets-silent" in told(sink)  # what `alertbot simulate` did before


def test_alertbot_simulate_keeps_the_feed_alive_well_within_the_shipped_switch():
    assert 0 < simulate_settings(0).oracle_interval == ORACLE_INTERVAL <= 2 * 60 / 10
