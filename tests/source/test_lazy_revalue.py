"""Lazy revaluation: prices move an account's equity once per batch, valued with the newest."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from alertbot.core.model import Event
from alertbot.sim import SimSettings, Simulator, load_scenario
from alertbot.source.buffer import EventBuffer
from alertbot.source.client import IndexerSource
from alertbot.source.normalize import Normalizer
from tests.source.riskkinds import without_risk
from tests.source.test_live import config_for
from tests.source.test_normalize_accounts import CH, MARKETS, SUB_ID, _fail, loaded, subaccount

TIMEOUT = 8.0
ETH_3 = ("2100", "2200", "2300")


def price(ticker: str, value: str) -> dict[str, Any]:
    return {"oraclePrices": {ticker: {"oraclePrice": value, "effectiveAtHeight": "1001"}}}


def lazy() -> Normalizer:
    n = loaded()
    n.lazy = True
    n.snapshot(CH, SUB_ID, {"subaccount": subaccount(), "orders": []}, 1.0, 0)
    return n


def eth(acct: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in acct["positions"] if p["ticker"] == "ETH-USD")


def test_three_prices_in_one_batch_give_one_account_event_with_the_last_price() -> None:
    n = lazy()
    moved = [
        n.update("v4_markets", None, price("ETH-USD", p), 2.0 + i, i) for i, p in enumerate(ETH_3)
    ]
    assert [[e.kind for e in without_risk(events)] for events in moved] == [["market"]] * 3
    flushed = without_risk(n.flush(9.0))
    assert [e.kind for e in flushed] == ["account"]
    acct = flushed[0].data
    assert acct["origin"] == "price"
    assert eth(acct)["oracle_price"] == 2300.0
    # USDC 10000 + 2 x 2300 - 0.1 x 50000 + 0.5 (the offset to the reported equity)
    assert acct["equity"] == pytest.approx(9600.5)
    assert flushed[0].at == 9.0  # valued when flushed, with every price up to then
    assert flushed[0].conn == 2  # the connection of the last price that moved it


def test_a_batch_boundary_still_emits_and_an_empty_batch_emits_nothing() -> None:
    n = lazy()
    n.update("v4_markets", None, price("ETH-USD", "2100"), 2.0, 0)
    assert [e.data["equity"] for e in without_risk(n.flush(3.0))] == [pytest.approx(9200.5)]
    assert n.flush(3.5) == []
    n.update("v4_markets", None, price("ETH-USD", "2000"), 4.0, 0)
    assert [e.data["equity"] for e in without_risk(n.flush(5.0))] == [pytest.approx(9000.5)]


def test_an_account_update_after_the_price_carries_it_and_is_not_repeated() -> None:
    n = lazy()
    n.update("v4_markets", None, price("ETH-USD", "2100"), 2.0, 0)
    usdc = {"assetPositions": [{"symbol": "USDC", "side": "LONG", "size": "11000"}]}
    updated = without_risk(n.update(CH, SUB_ID, usdc, 3.0, 0))
    assert [(e.kind, e.data["origin"]) for e in updated] == [("account", "update")]
    assert eth(updated[0].data)["oracle_price"] == 2100.0
    assert without_risk(n.flush(4.0)) == []
    # a price after the update makes the account due again
    n.update("v4_markets", None, price("ETH-USD", "2200"), 5.0, 0)
    assert [eth(e.data)["oracle_price"] for e in without_risk(n.flush(6.0))] == [2200.0]


def test_eager_normalizer_still_revalues_per_frame() -> None:
    """Replay and tools keep one account event per price frame (a batch of one frame)."""
    n = Normalizer(on_problem=_fail)
    n.snapshot("v4_markets", None, MARKETS, 0.0, 0)
    n.snapshot(CH, SUB_ID, {"subaccount": subaccount(), "orders": []}, 1.0, 0)
    kinds = [
        [e.kind for e in without_risk(n.update("v4_markets", None, price("ETH-USD", p), 2.0, 0))]
        for p in ETH_3
    ]
    assert kinds == [["market", "account"]] * 3
    assert n.flush(3.0) == []


async def test_buffer_take_ends_the_batch_with_what_flush_has_due() -> None:
    due: list[Event] = []
    asked = asyncio.Event()

    def flush() -> list[Event]:
        asked.set()  # take() asked; with nothing due it goes on to wait, with no await between
        return [due.pop()] if due else []

    buffer = EventBuffer(100, flush=flush)
    buffer.put([Event("market", 1.0, {"n": 1})])
    due.append(Event("account", 2.0, {"n": 2}))
    assert [e.kind for e in await buffer.take()] == ["market", "account"]
    # nothing buffered, something due: wake() gets it to a waiting consumer
    asked.clear()
    taking = asyncio.create_task(buffer.take())
    await asyncio.wait_for(asked.wait(), TIMEOUT)
    due.append(Event("account", 3.0, {"n": 3}))
    buffer.wake()
    got = await asyncio.wait_for(taking, TIMEOUT)
    assert [e.data["n"] for e in got] == [3]


# --- the live source against the simulator ---------------------------------------------------

ETH_PRICES = (3100.0, 3200.0, 3300.0)


@contextlib.asynccontextmanager
async def simulator() -> AsyncIterator[Simulator]:
    settings = SimSettings(block_interval=0, batch_interval=0.02)
    async with Simulator(load_scenario("basic"), settings) as sim:
        yield sim


class PriceSeen:
    """on_raw hook: set when a v4_markets frame carrying ETH-USD at `price` has arrived."""

    def __init__(self) -> None:
        self.price = 0.0
        self.seen = asyncio.Event()

    def __call__(self, _conn: int, _now: float, raw: bytes) -> None:
        msg = orjson.loads(raw)
        if msg.get("channel") != "v4_markets":
            return
        items = msg["contents"] if msg.get("type") == "channel_batch_data" else [msg["contents"]]
        for item in items:
            entry = ((item or {}).get("oraclePrices") or {}).get("ETH-USD")
            if entry and float(entry["oraclePrice"]) == self.price:
                self.seen.set()


def price_accounts(batch: list[Event]) -> list[dict[str, Any]]:
    return [e.data for e in batch if e.kind == "account" and e.data["origin"] == "price"]


async def until_ready(source: IndexerSource, batches: AsyncIterator[list[Event]]) -> None:
    """Take batches until every subscription has its snapshot."""
    async for _ in batches:
        subs = [s for c in source.feed.conns.values() for s in c.subs.values()]
        if subs and all(s.status == "active" for s in subs):
            return


async def test_live_source_revalues_once_per_batch() -> None:
    hook = PriceSeen()
    async with (
        simulator() as sim,
        IndexerSource(config_for(sim), env={}, rng=lambda: 1.0, on_raw=hook) as source,
    ):
        batches = source.batches()
        await asyncio.wait_for(until_ready(source, batches), TIMEOUT)
        for value in ETH_PRICES:  # the consumer takes nothing meanwhile: one batch
            hook.price, hook.seen = value, asyncio.Event()
            sim.set_price("ETH-USD", value)
            await asyncio.wait_for(hook.seen.wait(), TIMEOUT)
        batch = await asyncio.wait_for(anext(batches), TIMEOUT)
        markets = [e for e in batch if e.kind == "market" and e.data["ticker"] == "ETH-USD"]
        assert [e.data["oracle_price"] for e in markets] == list(ETH_PRICES)
        accounts = price_accounts(batch)
        assert len(accounts) == 1
        assert eth(accounts[0])["oracle_price"] == 3300.0
        assert without_risk(batch)[-1].kind == "account"  # the revaluation ends the batch
        # the next batch boundary emits again, with its own price
        hook.price, hook.seen = 3400.0, asyncio.Event()
        sim.set_price("ETH-USD", 3400.0)
        await asyncio.wait_for(hook.seen.wait(), TIMEOUT)
        batch = await asyncio.wait_for(anext(batches), TIMEOUT)
        assert [eth(a)["oracle_price"] for a in price_accounts(batch)] == [3400.0]


async def test_a_price_frame_with_no_event_of_its_own_still_ends_a_batch() -> None:
    """Nobody reads `market`: the oracle frame emits nothing, but its revaluation is due."""
    async with (
        simulator() as sim,  # no feed.stale in time to wake the consumer instead
        IndexerSource(config_for(sim, silence_timeout="60s"), env={}, rng=lambda: 1.0) as source,
    ):
        batches = source.batches()
        await asyncio.wait_for(until_ready(source, batches), TIMEOUT)
        source.normalizer.wanted = {"account"}

        async def first_price_account() -> dict[str, Any]:
            async for batch in batches:
                found = price_accounts(batch)
                if found:
                    return found[0]
            raise AssertionError("the source ended")

        sim.set_price("ETH-USD", 3500.0)
        acct = await asyncio.wait_for(first_price_account(), TIMEOUT)
        assert eth(acct)["oracle_price"] == 3500.0
