"""Scenario files: validation with located errors, the packaged scenarios, and the player."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

import alertbot.sim as sim_pkg
from alertbot.core.errors import ConfigError
from alertbot.sim import SimSettings, Simulator, load_scenario
from alertbot.sim.player import cues, run_cue
from alertbot.sim.scenario import packaged_names, parse_scenario
from tests.sim.test_wire import client, settings

DEMO_ACCOUNT = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art/0"
MARKETS = """
markets:
  BTC-USD: {oracle_price: 60000}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_scenario(textwrap.dedent(text), "bad.yaml")
    return [str(p) for p in caught.value.problems]


def test_packaged_scenarios_load():
    assert {"demo", "basic", "liquidation", "outage"} <= set(packaged_names())
    for name in packaged_names():
        assert load_scenario(name).timeline


def test_load_by_path_and_unknown_name(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(MARKETS + "timeline:\n  - {at: 1s, log: hello}\n")
    assert load_scenario(str(path)).timeline[0].log == "hello"
    with pytest.raises(ConfigError, match=r"no packaged scenario 'nope'.*demo"):
        load_scenario("nope")
    with pytest.raises(ConfigError, match="cannot read scenario"):
        load_scenario(str(tmp_path / "missing.yaml"))


def test_errors_name_file_line_and_key():
    found = problems(
        MARKETS
        + """
timeline:
  - at: 1s
    log: fine
  - at: 2s
    price: {ticker: BTC-USD, too: 5}
"""
    )
    assert len(found) == 2
    assert found[0] == "bad.yaml:9:12: timeline[1].price.to: required key is missing"
    assert found[1].startswith("bad.yaml:9:")
    assert found[1].endswith(" timeline[1].price.too: unknown key 'too'; did you mean 'to'?")


def test_step_needs_exactly_one_action():
    (both,) = problems(MARKETS + "timeline:\n  - {at: 1s, log: a, drop: 2}\n")
    assert "timeline[0]" in both
    assert "exactly one action" in both
    assert "drop, log" in both
    (none,) = problems(MARKETS + "timeline:\n  - {at: 1s}\n")
    assert "found none" in none


def test_bad_values_are_reported_all_at_once():
    found = problems(
        """
markets:
  BTC-USD: {oracle_price: -1}
accounts:
  dydx1notbech32/0: {usdc: 5}
timeline:
  - {at: soon, log: x}
  - {at: 1s, disconnect: 99}
  - {at: 1s, fail_snapshots: {channel: v4_orders}}
"""
    )
    joined = "\n".join(found)
    assert "markets.BTC-USD.oracle_price" in joined
    assert "accounts.dydx1notbech32/0: address contains characters not allowed in bech32" in joined
    assert "timeline[0].at: invalid duration 'soon'" in joined
    assert "timeline[1].disconnect.code" in joined
    assert "timeline[2].fail_snapshots.channel" in joined
    assert "v4_orders" in joined


def test_references_are_checked():
    found = problems(
        MARKETS
        + """
timeline:
  - {at: 2s, price: {ticker: DOGE-USD, to: 1}}
  - {at: 1s, fill: {order: ghost}}
"""
    )
    assert any("timeline[0].price.ticker: unknown market 'DOGE-USD'" in p for p in found)
    assert any("timeline[1].at: steps must be in time order" in p for p in found)
    assert any("timeline[1].fill.order: no earlier order has ref 'ghost'" in p for p in found)


def test_price_ramps_expand_into_steps():
    scenario = load_scenario("demo")
    ramp = [c for c in cues(scenario) if c.name == "price" and c.args[0] == "BTC-USD"]
    assert [c.at for c in ramp[:6]] == [10, 11, 12, 13, 14, 15]
    assert [c.args[1] for c in ramp[:6]][-1] == 57500
    assert [c.args[1] for c in ramp][-1] == 61000


async def test_demo_shows_the_three_headline_situations_in_order():
    sim = Simulator(load_scenario("demo"), SimSettings(block_interval=0))
    statuses, below, disconnects = [], [], []
    for cue in cues(sim.scenario):
        await run_cue(sim, cue)
        equity = sim.equity(DEMO_ACCOUNT)[0]
        statuses += [
            (cue.at, o.status) for o in sim.exchange.orders.values() if o.ticker == "BTC-USD"
        ]
        below.append((cue.at, equity < 1000))
        if cue.name == "disconnect":
            disconnects.append(cue.at)
    filled_at = min(at for at, status in statuses if status == "FILLED")
    first_below = min(at for at, low in below if low)
    back_above = min(at for at, low in below if at > first_below and not low)
    assert 4 <= filled_at < first_below
    assert back_above - first_below > 30
    assert disconnects == [54, 57, 60, 63]
    assert filled_at < first_below < back_above < disconnects[0]  # no overlap: no inhibition
    assert sim.equity(DEMO_ACCOUNT) == (1310.9401, 975.4401)
    assert sim.exchange.equity(DEMO_ACCOUNT)[0] > 1100


async def test_demo_plays_to_completion_fast():
    fast = settings(time_scale=500)
    async with Simulator(load_scenario("demo"), fast) as s, client(s) as c:
        await c.subscribe("v4_subaccounts", DEMO_ACCOUNT)
        await asyncio.wait_for(s.play(), 5)
        assert (await c.closed())[0] == 1006  # the reconnect storm reached us
    assert s.equity(DEMO_ACCOUNT)[0] == 1310.9401


async def test_basic_timeline_plays(capsys):
    async with Simulator(load_scenario("basic"), settings(time_scale=200)) as s:
        s.narrate = print
        await asyncio.wait_for(s.play(), 5)
    order = s.exchange.orders[s.order_refs["o1"]]
    assert (order.status, order.total_filled) == ("CANCELED", 0.2)
    assert "basic timeline done" in capsys.readouterr().out


async def test_run_simulator_prints_where_it_listens(capsys, monkeypatch):
    played = asyncio.Event()
    original = Simulator.play

    async def play_and_flag(self: Simulator) -> None:
        await original(self)
        played.set()

    monkeypatch.setattr(Simulator, "play", play_and_flag)
    task = asyncio.create_task(sim_pkg.run_simulator(0, "basic", time_scale=500))
    await asyncio.wait_for(played.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("simulator listening on ws://127.0.0.1:")
    assert lines[0].endswith("/v4)")
    assert "/v4/ws (REST http://127.0.0.1:" in lines[0]
    assert any("basic timeline done" in line for line in lines)
