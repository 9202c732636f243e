"""The REST fallback of a parent subaccount covers its children's fills and transfers (issue 9)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from alertbot.sim import SimSettings, Simulator, load_scenario
from tests.source.test_live import ACC, config_for, running

ADDRESS = ACC.split("/")[0]
CHILD = f"{ADDRESS}/128"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    settings = SimSettings(block_interval=0.1, batch_interval=0.02)
    async with Simulator(load_scenario("basic"), settings) as simulator:
        yield simulator


async def test_parent_polling_reports_child_fills_and_transfers(sim: Simulator):
    config = config_for(sim, subaccounts=[], parent_subaccounts=[f"{ADDRESS}/0"])
    async with running(config) as (source, tap):
        await tap.kind("account", origin="snapshot")
        sim.refuse_connections(True)
        await sim.disconnect_all(1006)
        await tap.kind("source.polling", active=True)
        order = sim.place_order(CHILD, "ETH-USD", "BUY", 0.5, 3000)
        sim.new_block()
        fill = sim.fill_order(order)
        sim.transfer(CHILD, 75, type="DEPOSIT")
        sim.transfer(ACC, 20, type="WITHDRAWAL")
        got = await tap.kind("fill", id=fill)
        child_in = await tap.kind("transfer", subaccount=128)
        parent_out = await tap.kind("transfer", subaccount=0)
        assert (got.conn, got.data["subaccount"], got.data["catchup"]) == (-1, 128, True)
        assert (child_in.data["type"], child_in.data["size"]) == ("DEPOSIT", 75.0)
        assert (parent_out.data["type"], parent_out.data["catchup"]) == ("WITHDRAWAL", True)
        mark = len(tap.events)
        sim.refuse_connections(False)
        await tap.kind("source.polling", active=False, after=mark)
        await tap.kind("account", origin="snapshot", after=mark)
        sim.set_price("ETH-USD", 3001)
        await tap.kind("market", ticker="ETH-USD", oracle_price=3001.0, after=mark)
    assert tap.count("fill", id=fill) == 1
    assert tap.count("transfer") == 2
    assert source.sync.rounds >= 1
