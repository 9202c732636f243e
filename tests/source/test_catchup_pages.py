"""Catch-up pages back through REST history: more fills than one page while the source was
stopped are all reported once, oldest first, and a third start reports nothing (the cursors
alone: no engine here remembers what it told)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from alertbot.core.model import Event
from alertbot.sim import SimSettings, Simulator, load_scenario
from alertbot.source.client import IndexerSource
from alertbot.source.config import SourceConfig
from alertbot.source.restsync import PAGE
from alertbot.state import open_state
from tests.source.riskkinds import without_risk
from tests.source.test_live import ACC, Tap, config_for


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(load_scenario("basic"), SimSettings(block_interval=0)) as simulator:
        yield simulator


async def start_round(config: SourceConfig, state_dir: Path) -> list[Event]:
    """One start of the source with its state: the events up to the start's summary."""
    store = open_state(state_dir)
    try:
        async with IndexerSource(config, env={}, state=store) as source:
            tap = Tap(source)
            await tap.kind("source.catchup", origin="start")
            await tap.close()
    finally:
        store.close()
    return tap.events


async def test_more_than_a_page_of_fills_while_stopped(sim, tmp_path):
    config = config_for(sim, markets=[], polling={"enabled": False})
    first = without_risk(await start_round(config, tmp_path))
    assert [e.kind for e in first] == ["source.catchup"]  # the baseline
    made: list[str] = []
    order = sim.place_order(ACC, "ETH-USD", "BUY", 10.0, 3000)
    for _ in range(PAGE + 30):  # one fill per block: pages are cut by height
        sim.new_block()
        made.append(sim.fill_order(order, 0.01))
    sim.new_block()
    sim.transfer(ACC, 25, type="DEPOSIT")
    second = await start_round(config, tmp_path)
    assert [e.data["size"] for e in second if e.kind == "transfer"] == [25.0]
    fills = [e for e in second if e.kind == "fill"]
    assert [e.data["id"] for e in fills] == made  # every one, once, in the order they happened
    assert all(e.data["catchup"] for e in fills)
    assert [e.at for e in fills] == sorted(e.at for e in fills)
    (summary,) = [e for e in second if e.kind == "source.catchup"]
    assert summary.data["emitted"] == len([e for e in second if e.data.get("catchup")])
    third = without_risk(await start_round(config, tmp_path))
    assert [e.kind for e in third] == ["source.catchup"]
    assert third[-1].data["emitted"] == 0
