"""The source adds and drops subaccounts at run time: a handover between two replicas loses
nothing, because the new owner restores the old owner's cursors and catches up over REST.
An account with no cursor yet gets a marker before the take-over's REST round and its first
cursor before its subscription, both waiting out a database outage (real PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from alertbot.core.model import Event
from alertbot.sim import SimSettings, Simulator, load_scenario
from alertbot.source.client import IndexerSource
from alertbot.source.config import SourceConfig
from alertbot.source.connstate import ACTIVE
from alertbot.source.subscriptions import key_of
from alertbot.state import open_state
from tests.pg import pg_config
from tests.source.test_cursor_settle import fills_in
from tests.state.test_pg_run import connections

ADDRESS = "dydx199tqg4wdlnu4qjlxchpd7seg454937hjrknju4"
ONE, TWO = f"{ADDRESS}/1", f"{ADDRESS}/2"
CHANNELS = ("v4_subaccounts", "v4_parent_subaccounts")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(load_scenario("basic"), SimSettings(block_interval=0)) as simulator:
        simulator.exchange.add_account(ONE, 1000.0)
        simulator.exchange.add_account(TWO, 1000.0)
        yield simulator


def source_for(sim: Simulator, store, owned: set[str], **extra: object) -> IndexerSource:
    config = SourceConfig.model_validate(
        {
            "ws_url": sim.ws_url,
            "rest_url": sim.rest_url,
            "subaccounts": [ONE, TWO],
            "reconcile_interval": 0,
            "reconcile_delay": "50ms",
            "polling": {"enabled": False},
            **extra,
        }
    )
    return IndexerSource(
        config, env={}, state=store, keep=lambda a, n: f"{a}/{n}" in owned, tick=0.05
    )


async def first(source: IndexerSource, match: Callable[[Event], bool], limit: float = 10) -> Event:
    async with asyncio.timeout(limit):
        async for event in source:
            if match(event):
                return event
    raise AssertionError("the source ended")


def fill_of(fill_id: str) -> Callable[[Event], bool]:
    return lambda e: e.kind == "fill" and e.data["id"] == fill_id


def holders(sim: Simulator, account: str) -> list[object]:
    """The simulator's sessions that carry this subaccount's subscription."""
    return [s for s in sim._sessions if ("v4_subaccounts", account) in s.subs]


async def watched_and_saved(source: IndexerSource) -> None:
    """ONE taken over, its snapshot handled, its cursor saved (the ticker's save, now)."""
    source.watch([ONE], [])
    await first(source, lambda e: e.kind == "account" and e.data["subaccount"] == 1)
    await asyncio.sleep(0)
    source._save_cursors()


def trade(sim: Simulator, account: str) -> str:
    sim.new_block()
    fill = sim.fill_order(sim.place_order(account, "ETH-USD", "BUY", 0.01, 3000))
    sim.new_block()
    return fill


async def test_a_subaccount_handed_over_misses_nothing(sim, tmp_path):
    store = open_state(tmp_path / "state")  # the shared store of both replicas
    owned_a, owned_b = {ONE, TWO}, set()
    try:
        async with (
            source_for(sim, store, owned_a) as a,
            source_for(sim, store, owned_b) as b,
        ):
            assert a.watching == 0  # a replica starts with no subaccount at all
            a.watch([ONE, TWO], [])
            await first(a, lambda e: e.kind == "account" and e.data["subaccount"] == 1)
            live = trade(sim, ONE)
            await first(a, fill_of(live))  # over the socket or the reconciliation after it
            await asyncio.sleep(0)
            a._save_cursors()  # what the ticker does every second once the buffer is empty

            # the handover: A drops ONE (its lease moved), then ONE trades while nobody watches
            owned_a.discard(ONE)
            a.unwatch([ONE], [])
            missed = trade(sim, ONE)
            owned_b.add(ONE)
            b.watch([ONE], [])
            caught = await first(b, fill_of(missed))
            assert caught.data["catchup"] is True  # found over REST against A's cursor
            after = trade(sim, ONE)
            await first(b, fill_of(after))
            # A still watches TWO, and got nothing more of ONE
            other = trade(sim, TWO)
            seen = []
            async with asyncio.timeout(10):
                async for event in a:
                    seen.append(event)
                    if fill_of(other)(event):
                        break
            assert [e for e in seen if e.data.get("subaccount") == 1] == []
            assert a.watching == 1
            assert b.watching == 1
            holders = [
                session for session in sim._sessions if ("v4_subaccounts", ONE) in session.subs
            ]
            assert len(holders) == 1  # B's connection; A's unsubscribe reached the server
    finally:
        store.close()


async def test_an_event_seen_after_the_fence_is_found_again_when_the_lease_returns(sim, tmp_path):
    store = open_state(tmp_path / "state")
    owned = {ONE}
    try:
        async with source_for(sim, store, owned) as a:
            await watched_and_saved(a)  # the owner's last save before its fence
            assert store.cursors.get(f"source/{ONE}") is not None
            owned.discard(ONE)  # the fence passed: the app drops what the socket still brings
            dropped = trade(sim, ONE)
            async with asyncio.timeout(10):  # seen by the source (socket or REST), not told
                while dropped not in a.normalizer.subs.fills:  # noqa: ASYNC110 - bounded poll
                    await asyncio.sleep(0.01)
            a.unwatch([ONE], [])  # the coordinator's news comes a moment later
            owned.add(ONE)  # the lease is back (the database answered again)
            a.watch([ONE], [])
            again = await first(a, fill_of(dropped))
            assert again.data["catchup"] is True  # found over REST: not lost
    finally:
        store.close()


async def test_a_fill_between_the_take_over_rounds_and_the_subscription_is_told(sim, tmp_path):
    store = open_state(tmp_path / "state")
    try:
        # one subscribe a second: the take-over's subscription waits behind the market ones,
        # as 100 subscriptions do behind each other on a busy replica
        async with source_for(sim, store, {ONE}, subscribe_rate=1) as b:
            async with asyncio.timeout(10):  # the market subscriptions are live (paced)
                while not b.feed.conns or not all(  # noqa: ASYNC110 - bounded poll
                    s.status == ACTIVE for s in b.feed.conn(0).subs.values()
                ):
                    await asyncio.sleep(0.01)
            rounds = b.sync.rounds
            b.watch([ONE], [])
            async with asyncio.timeout(10):  # the take-over's catch-up round
                while b.sync.rounds < rounds + 1:  # noqa: ASYNC110 - bounded poll
                    await asyncio.sleep(0.01)
            subscribed = [s for s in sim._sessions if ("v4_subaccounts", ONE) in s.subs]
            assert subscribed == []  # the fill below falls between REST and the socket
            between = trade(sim, ONE)
            caught = await first(b, fill_of(between))
            assert caught.data["catchup"] is True  # the reconciliation after the snapshot
    finally:
        store.close()


async def test_a_subaccount_given_up_while_its_subscribe_waits_is_never_subscribed(sim, tmp_path):
    store = open_state(tmp_path / "state")
    owned = {ONE, TWO}
    try:
        async with source_for(sim, store, owned, subscribe_rate=1) as a:
            async with asyncio.timeout(10):  # the market subscriptions are live (paced)
                while not a.feed.conns or not all(  # noqa: ASYNC110 - bounded poll
                    s.status == ACTIVE for s in a.feed.conn(0).subs.values()
                ):
                    await asyncio.sleep(0.01)
            a.watch([ONE], [])
            key = key_of("v4_subaccounts", ONE)
            async with asyncio.timeout(10):  # placed, and taken by the sender: it waits its slot
                while key not in a.feed.conn(0).subs or not a._sendq[0].empty():  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            owned.discard(ONE)  # its lease moved before the slot came
            a.unwatch([ONE], [])
            a.watch([TWO], [])  # paced after ONE's slot: once it is live, that slot passed
            async with asyncio.timeout(10):
                while not holders(sim, TWO):  # noqa: ASYNC110 - bounded poll
                    await asyncio.sleep(0.01)
            assert holders(sim, ONE) == []  # else the next owner's alerts would come twice
    finally:
        store.close()


async def waited(caplog: pytest.LogCaptureFixture, text: str, limit: float = 10) -> None:
    """Until the source has logged this (a wait it is in)."""
    async with asyncio.timeout(limit):
        while text not in caplog.text:  # noqa: ASYNC110 - bounded poll of the log
            await asyncio.sleep(0.01)


def outage_at_take_over(source: IndexerSource, dsn: str) -> None:
    """The database goes away as the take-over's REST round comes back (after the restore)."""

    def hook(now: float, origin: str, responses: list[Any]) -> None:
        if origin == "takeover":
            connections(dsn, allowed=False)

    source.sync.on_round = hook


@pytest.mark.parametrize("parent", [False, True], ids=["subaccount", "parent"])
async def test_a_first_owner_that_dies_unsaved_leaves_a_marker_to_catch_up_from(
    sim, pg_dsn, caplog, parent
):
    caplog.set_level(logging.INFO, "alertbot.source")
    plain, parents = ([], [ONE]) if parent else ([ONE], [])  # parent 1's child 1 is ONE
    child = f"{ADDRESS}/129"  # parent 1's other child: its history since the marker is news
    sim.exchange.add_account(child, 1000.0)
    trader = child if parent else ONE
    store_a, store_b = (open_state("", config=pg_config(pg_dsn)) for _ in range(2))
    owned_a: set[str] = {ONE, child}  # the app's keep maps a child to its parent's shard
    try:
        async with (
            source_for(sim, store_a, owned_a) as a,
            source_for(sim, store_b, {ONE, child}) as b,
        ):
            outage_at_take_over(a, pg_dsn)
            try:
                a.watch(plain, parents)  # nobody ever saved a cursor of ONE
                await waited(caplog, "take-over waits to save its baseline cursors")
                assert not [s for s in sim._sessions for c in CHANNELS if (c, ONE) in s.subs]
                owned_a.clear()  # A's lease lapses in the outage; A never saved a cursor
                a.unwatch(plain, parents)
                missed = trade(sim, trader)  # while nobody watches
            finally:
                connections(pg_dsn, allowed=True)
            b.watch(plain, parents)
            caught = await first(b, fill_of(missed))
            assert caught.data["catchup"] is True  # from A's marker, not a baseline of B's
            assert "1 cursor(s) restored, 0 marked" in caplog.text  # B read A's marker
    finally:
        store_a.close()
        store_b.close()


async def test_a_first_sight_is_saved_before_its_subscription_even_across_an_outage(
    sim, pg_dsn, caplog
):
    caplog.set_level(logging.INFO, "alertbot.source")
    store = open_state("", config=pg_config(pg_dsn))
    name = f"source/{ONE}"
    try:
        async with source_for(sim, store, {ONE}) as a:
            outage_at_take_over(a, pg_dsn)
            try:
                a.watch([ONE], [])
                await waited(caplog, "take-over waits to save its baseline cursors")
                assert holders(sim, ONE) == []  # it waits, unsubscribed
            finally:
                connections(pg_dsn, allowed=True)
            async with asyncio.timeout(10):
                while not holders(sim, ONE):  # noqa: ASYNC110 - bounded poll
                    await asyncio.sleep(0.01)
            saved = store.cursors.get(name)
            assert saved is not None
            assert "positions" in saved  # a whole cursor over the marker, before subscribing
    finally:
        store.close()


async def test_an_account_owned_again_is_not_saved_before_it_is_taken_over(sim, tmp_path):
    store = open_state(tmp_path / "state")
    owned = {ONE}
    try:
        async with source_for(sim, store, owned) as a:
            await watched_and_saved(a)
            owned.discard(ONE)  # the lease lapsed in an outage
            a.unwatch([ONE], [])
            missed = trade(sim, ONE)
            # a REST round of the old ownership ends after the unwatch: its state stays behind
            await a.sync.accounts([("v4_subaccounts", ONE)], deep=True)
            owned.add(ONE)  # the lease is back; the take-over waits for the rule state
            a._save_cursors()  # a save meanwhile must not write what the old round left
            assert missed not in fills_in(store, ONE)
            a.watch([ONE], [])
            caught = await first(a, fill_of(missed))
            assert caught.data["catchup"] is True
    finally:
        store.close()
