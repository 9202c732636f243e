"""The catch-up cursors are saved only once the engine has handled every event they reflect,
and a stop first lets the engine take what was already received, so a restart never re-tells
an event without an id (a position closed) nor skips one (issue 9). The wait is per
subaccount: one with an event in flight does not hold back the others' saves."""

from __future__ import annotations

import asyncio

from alertbot.core.model import Event
from alertbot.source.client import IndexerSource
from alertbot.source.config import SourceConfig
from alertbot.state import open_state
from tests.apphelpers import until
from tests.test_cli import ACC


def fills_in(store, account: str) -> list[str]:
    saved = store.cursors.get(f"source/{account}")
    return list(saved["fill"][1]) if saved and saved.get("fill") else []


def source_of(sim, store, accounts: list[str]) -> IndexerSource:
    """A source on the simulator saving its cursors in `store` (no periodic reconciliation)."""
    config = SourceConfig.model_validate(
        {"ws_url": sim.ws_url, "rest_url": sim.rest_url, "subaccounts": accounts,
         "reconcile_interval": 0, "reconcile_delay": "50ms", "polling": {"enabled": False}}
    )  # fmt: skip
    return IndexerSource(config, env={}, state=store, tick=0.05)


async def test_a_held_batch_blocks_the_save_and_stop_waits_for_the_engine(sim, tmp_path):
    store = open_state(tmp_path / "state")
    source = source_of(sim, store, [ACC])
    handled: list[Event] = []
    gate = asyncio.Event()
    gate.set()

    held = asyncio.Event()

    async def engine() -> None:  # takes a batch, then handles it when the gate is open
        async for batch in source.batches():
            if any(e.kind == "fill" for e in batch):
                held.set()
                await gate.wait()
            handled.extend(batch)

    try:
        async with source:
            task = asyncio.create_task(engine())
            await until(lambda: any(e.kind == "account" for e in handled), "the snapshot")
            gate.clear()  # the engine is now slow
            sim.new_block()
            made = sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900))
            await asyncio.wait_for(held.wait(), 10)  # the fill's batch taken, not handled
            assert not source._settled()  # whatever the buffer holds
            source._save_cursors()  # what the ticker would do now
            assert made not in fills_in(store, ACC)  # the engine has not had the fill yet
            stopping = asyncio.create_task(source.quiesce(10.0))
            await until(lambda: source._stopping, "no more frames taken")
            gate.set()  # the engine catches up while the stop waits for it
            await stopping
            assert any(e.kind == "fill" and e.data["id"] == made for e in handled)
            task.cancel()
        assert made in fills_in(store, ACC)  # saved at stop, now that the engine had it
    finally:
        store.close()


async def test_a_held_batch_holds_back_only_its_own_subaccount(sim, tmp_path):
    other = ACC.rpartition("/")[0] + "/7"
    sim.exchange.add_account(other, 1000.0)
    store = open_state(tmp_path / "state")
    source = source_of(sim, store, [ACC, other])
    handled: list[Event] = []
    gate, held = asyncio.Event(), asyncio.Event()
    gate.set()

    async def engine() -> None:
        async for batch in source.batches():
            if not gate.is_set() and any(e.kind == "fill" for e in batch):
                held.set()
                await gate.wait()
            handled.extend(batch)

    try:
        async with source:
            task = asyncio.create_task(engine())
            await until(lambda: {e.data.get("subaccount") for e in handled} >= {0, 7}, "both")
            sim.new_block()
            told = sim.fill_order(sim.place_order(other, "BTC-USD", "BUY", 0.01, 59900))
            await until(lambda: any(e.data.get("id") == told for e in handled), "its fill")
            gate.clear()  # the engine is now slow
            sim.new_block()
            made = sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900))
            await asyncio.wait_for(held.wait(), 10)  # ACC's fill taken, not handled
            assert not source._settled()
            source._save_cursors()
            assert told in fills_in(store, other)  # handled: saved though the engine is busy
            assert made not in fills_in(store, ACC)  # in flight: not yet
            gate.set()
            task.cancel()
    finally:
        store.close()
