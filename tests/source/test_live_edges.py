"""The live source's edges: malformed frames, a bug on the frame path, the goodbye, polling."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from alertbot.sim import SimSettings, Simulator, load_scenario
from alertbot.source.client import IndexerSource
from tests.source.test_live import ACC, TIMEOUT, Tap, config_for, running

FOURTEEN = '{"type":["x"]}'


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    settings = SimSettings(block_interval=0.1, batch_interval=0.02)
    async with Simulator(load_scenario("basic"), settings) as simulator:
        yield simulator


async def until(predicate: Any, what: str) -> None:
    """Wait (bounded) for state owned by another task."""
    try:
        async with asyncio.timeout(TIMEOUT):
            while not predicate():  # noqa: ASYNC110 - polls another task's state, bounded
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_the_14_byte_frame_is_skipped_and_the_connection_lives_on(sim):
    assert len(FOURTEEN.encode()) == 14
    async with running(config_for(sim)) as (source, tap):
        await tap.kind("account", origin="snapshot")
        reason = "message of unknown type [str]"
        for _ in range(3):
            sim.send_raw(FOURTEEN)
        sim.set_price("ETH-USD", 2900)  # sent after the bad frames, on the same socket
        await tap.kind("market", ticker="ETH-USD", oracle_price=2900.0)
        assert source.problems.counts[reason] == 3  # counted and skipped, each one
        assert tap.count("connection.lost") == 0  # no reconnect, let alone a storm
        assert sim.connections == 1
        assert all(not task.done() for task in source._conn_tasks.values())
        sim.set_price("ETH-USD", 2950)
        await tap.kind("market", ticker="ETH-USD", oracle_price=2950.0)


async def test_a_bug_on_the_frame_path_restarts_only_that_connection(sim, caplog):
    caplog.set_level(logging.ERROR, "alertbot.source")

    def broken(_index: int, _now: float, raw: bytes) -> None:  # a per-frame hook with a bug
        if b"boom" in raw:
            raise RuntimeError("a bug in alertbot")

    async with running(config_for(sim), on_raw=broken) as (source, tap):
        await tap.kind("account", origin="snapshot")
        mark = len(tap.events)
        sim.send_raw('{"type":"channel_data","secret":"boom","n":[1,2]}')
        lost = await tap.kind("connection.lost", after=mark)
        assert lost.data["code"] == 1011
        await tap.kind("connection.reconnect", after=mark)
        await tap.kind("account", origin="snapshot", after=mark)
        sim.set_price("ETH-USD", 2800)
        await tap.kind("market", ticker="ETH-USD", oracle_price=2800.0, after=mark)
        assert source.tasks.failed is None  # the run is not taken down
        assert source.frame_failures == 1
        assert tap.count("connection.lost") == 1  # one restart, no storm
    lines = [r.getMessage() for r in caplog.records if "handling a frame failed" in r.getMessage()]
    assert lines == [
        "connection 0: handling a frame failed (RuntimeError); "
        "frame shape {type: str, secret: str, n: [int]}; reconnecting"
    ]
    assert all("boom" not in r.getMessage() for r in caplog.records)


async def test_shutdown_closes_every_socket_with_1000(sim):
    source = IndexerSource(config_for(sim, markets=["BTC-USD"]), env={})
    async with source:
        tap = Tap(source)
        await tap.kind("account", origin="snapshot")
        await tap.close()
    await until(lambda: sim.closes, "the simulator to see the close")
    assert sim.closes == [(1000, "alertbot shutting down")]
    assert tap.count("connection.lost") == 0  # our own goodbye is not a loss


async def test_rest_polling_repeats_every_interval_until_the_socket_is_back(sim):
    async with running(config_for(sim)) as (source, tap):
        await tap.kind("account", origin="snapshot")
        sim.refuse_connections(True)
        await sim.disconnect_all(1006)
        await tap.kind("source.polling", active=True)
        calls = source.rest.calls
        fills = []
        for price in (3100, 3105, 3110):  # a fill per interval, each found by a later poll
            order_id = sim.place_order(ACC, "ETH-USD", "SELL", 0.1, price)
            fills.append(sim.fill_order(order_id))
            await tap.kind("fill", id=fills[-1])
        assert source.rest.calls - calls >= 3 * 2  # several rounds, not one per outage
        polls = sum(1 for e in tap.events if e.kind == "account" and e.data["origin"] == "rest")
        assert polls >= 3
        mark = len(tap.events)
        sim.refuse_connections(False)
        await tap.kind("source.polling", active=False, after=mark)
        await tap.kind("account", origin="snapshot", after=mark)
        calls = source.rest.calls
        sim.set_price("ETH-USD", 3001)
        await tap.kind("market", ticker="ETH-USD", oracle_price=3001.0, after=mark)
        assert all(tap.count("fill", id=fill) == 1 for fill in fills)  # no duplicates when back
        assert source.polling is False
