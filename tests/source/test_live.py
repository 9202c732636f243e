"""The live source against the bundled simulator over real loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest

from alertbot.core.model import Event
from alertbot.sim import SimSettings, Simulator, load_scenario
from alertbot.source.client import IndexerSource
from alertbot.source.config import SourceConfig

ACC = "dydx199tqg4wdlnu4qjlxchpd7seg454937hjrknju4/0"
TIMEOUT = 8.0


class Tap:
    """Collects a source's events in a task; tests wait on a predicate with a bounded timeout."""

    def __init__(self, source: IndexerSource) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._pump(source))

    async def _pump(self, source: IndexerSource) -> None:
        async for event in source:
            self.events.append(event)
            self._changed.set()

    async def wait(self, predicate: Callable[[Event], bool], *, after: int = 0) -> Event:
        """The first event (from index `after`) that satisfies `predicate`."""

        async def find() -> Event:
            seen = after
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(find(), TIMEOUT)

    async def kind(self, kind: str, *, after: int = 0, **fields: Any) -> Event:
        """The first event of `kind` whose data has these field values."""
        return await self.wait(
            lambda e: e.kind == kind and all(e.data.get(k) == v for k, v in fields.items()),
            after=after,
        )

    def count(self, kind: str, **fields: Any) -> int:
        """How many events of `kind` with these field values so far."""
        return sum(
            1
            for e in self.events
            if e.kind == kind and all(e.data.get(k) == v for k, v in fields.items())
        )

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def ready(source: IndexerSource, tap: Tap) -> None:
    """Wait until every subscription of every connection has its snapshot."""

    def all_active(_event: Event) -> bool:
        subs = [s for c in source.feed.conns.values() for s in c.subs.values()]
        return bool(subs) and all(s.status == "active" for s in subs)

    await tap.wait(all_active)


def config_for(sim: Simulator, **overrides: Any) -> SourceConfig:
    base: dict[str, Any] = {
        "ws_url": sim.ws_url,
        "rest_url": sim.rest_url,
        "subaccounts": [ACC],
        "markets": ["BTC-USD", "ETH-USD"],
        "silence_timeout": "3s",
        "gap_timeout": "1s",
        "reconnect": {"initial": "20ms", "max": "100ms"},
        "polling": {"after": "200ms", "interval": "200ms"},
        "snapshot_retry": "200ms",
        "reconcile_interval": 0,
        "ping_interval": "1s",
        "ping_timeout": "1s",
    }
    base.update(overrides)
    return SourceConfig.model_validate(base)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    settings = SimSettings(block_interval=0.1, batch_interval=0.02)
    async with Simulator(load_scenario("basic"), settings) as simulator:
        yield simulator


@contextlib.asynccontextmanager
async def running(config: SourceConfig, **kwargs: Any) -> AsyncIterator[tuple[IndexerSource, Tap]]:
    async with IndexerSource(config, env={}, rng=lambda: 1.0, **kwargs) as source:
        tap = Tap(source)
        try:
            yield source, tap
        finally:
            await tap.close()


async def test_live_equity_matches_the_rest_figure(sim):
    async with running(config_for(sim)) as (_, tap):
        first = await tap.kind("account", origin="snapshot")
        assert first.data["equity"] == pytest.approx(5500.0)
        sim.set_price("ETH-USD", 2800)
        moved = await tap.kind("account", origin="price")
        equity, free = sim.equity(ACC)
        assert moved.data["equity"] == pytest.approx(equity, rel=1e-9)
        assert moved.data["free_collateral"] == pytest.approx(free, rel=1e-9)
        address, number = ACC.split("/")
        async with httpx.AsyncClient() as client:
            body = (
                await client.get(f"{sim.rest_url}/addresses/{address}/subaccountNumber/{number}")
            ).json()
        assert moved.data["equity"] == pytest.approx(float(body["subaccount"]["equity"]), rel=1e-9)


async def test_order_lifecycle_and_fill_events(sim):
    async with running(config_for(sim)) as (_, tap):
        await tap.kind("account", origin="snapshot")
        order_id = sim.place_order(ACC, "ETH-USD", "BUY", 1.0, 2990)
        opened = await tap.kind("order.opened", order_id=order_id)
        assert opened.data["ticker"] == "ETH-USD"
        assert opened.data["size"] == 1.0
        fill_id = sim.fill_order(order_id, 0.4)
        fill = await tap.kind("fill", id=fill_id)
        assert (fill.data["size"], fill.data["liquidated"]) == (0.4, False)
        await tap.kind("order.partially_filled", order_id=order_id)
        sim.fill_order(order_id)
        done = await tap.kind("order.filled", order_id=order_id)
        assert done.data["total_filled"] == pytest.approx(1.0)
        assert tap.count("order.filled", order_id=order_id) == 1


async def test_liquidation_is_a_liquidated_fill(sim):
    async with running(config_for(sim)) as (_, tap):
        await tap.kind("account", origin="snapshot")
        fill_id = sim.liquidate(ACC, "ETH-USD")
        fill = await tap.kind("fill", id=fill_id)
        assert fill.data["type"] == "LIQUIDATED"
        assert fill.data["liquidated"] is True
        await tap.kind("position.closed", ticker="ETH-USD")


async def test_reconnect_resubscribes_and_never_repeats_a_transition(sim):
    async with running(config_for(sim)) as (_, tap):
        await tap.kind("account", origin="snapshot")
        order_id = sim.place_order(ACC, "ETH-USD", "BUY", 1.0, 2990)
        sim.fill_order(order_id)
        await tap.kind("order.filled", order_id=order_id)
        mark = len(tap.events)
        await sim.disconnect_all(1006)
        lost = await tap.kind("connection.lost", after=mark)
        assert lost.data["code"] == 1006
        back = await tap.kind("connection.reconnect", after=mark)
        assert back.data["attempts"] >= 1
        assert back.data["downtime"] >= 0
        await tap.kind("account", origin="snapshot", after=mark)
        sim.set_price("BTC-USD", 61000)
        await tap.kind("market", ticker="BTC-USD", oracle_price=61000.0, after=mark)
        assert tap.count("order.filled", order_id=order_id) == 1
        assert tap.count("order.opened", order_id=order_id) == 1


async def test_reconnect_after_server_restart_1012(sim):
    async with running(config_for(sim)) as (_, tap):
        await tap.kind("account", origin="snapshot")
        await sim.disconnect_all(1012)
        assert (await tap.kind("connection.lost")).data["code"] == 1012
        await tap.kind("connection.reconnect")


async def test_batched_data_is_used_and_handled(sim):
    frames: list[bytes] = []
    config = config_for(sim, batched=True)
    async with running(config, on_raw=lambda _c, _t, raw: frames.append(raw)) as (source, tap):
        await ready(source, tap)
        for price in (2990, 2980, 2970):
            sim.set_price("ETH-USD", price)
        await tap.kind("market", ticker="ETH-USD", oracle_price=2970.0, snapshot=False)
    types = {orjson.loads(f)["type"] for f in frames}
    assert "channel_batch_data" in types


async def test_late_subscribed_fills_its_hole_without_a_gap(sim):
    sim.delay_snapshots("v4_subaccounts", 0.3)
    frames: list[dict[str, Any]] = []
    config = config_for(sim, gap_timeout="2s")
    async with running(config, on_raw=lambda _c, _t, raw: frames.append(orjson.loads(raw))) as (
        source,
        tap,
    ):
        await tap.kind("account", origin="snapshot")
        ids = [f["message_id"] for f in frames]
        snapshot = next(f for f in frames if f.get("channel") == "v4_subaccounts")
        assert max(ids[: frames.index(snapshot)]) > snapshot["message_id"]  # really late
        assert source.feed.conns[0].gaps.missing == {}
        assert tap.count("connection.gap") == 0


async def test_dropped_messages_trigger_resync(sim):
    async with running(config_for(sim, gap_timeout="300ms")) as (_, tap):
        await tap.kind("account", origin="snapshot")
        mark = len(tap.events)
        sim.drop_messages(2)
        gap = await tap.kind("connection.gap", after=mark)
        assert gap.data["missing"] == 2
        assert gap.data["action"] == "resync"
        lost = await tap.kind("connection.lost", after=mark)
        assert lost.data["code"] == 4000
        await tap.kind("connection.reconnect", after=mark)
        await tap.kind("account", origin="snapshot", after=mark)


async def test_stalled_feed_is_reported_and_reconnected(sim):
    async with running(config_for(sim, silence_timeout="400ms")) as (_, tap):
        await tap.kind("account", origin="snapshot")
        sim.stall(1.0)
        stale = await tap.kind("feed.stale")
        assert stale.data["silence"] >= 0.4
        await tap.kind("connection.lost")
        await tap.kind("connection.reconnect")


async def test_failed_snapshot_is_retried(sim):
    sim.fail_snapshots("v4_trades", 1)
    async with running(config_for(sim)) as (_, tap):
        error = await tap.kind("subscription.error", action="retry")
        assert "could not fetch data for subscription: v4_trades" in error.data["message"]
        keys = [(ch, sid) for _t, _i, ch, sid in sim.subscribe_log if ch == "v4_trades"]
        sim.set_price("BTC-USD", 60500)
        await tap.wait(
            lambda e: len([k for k in sim.subscribe_log if k[2] == "v4_trades"]) > len(keys)
        )


async def test_legacy_failed_snapshot_without_channel_is_retried(sim):
    sim.fail_snapshots("v4_orderbook", 1, legacy=True)
    async with running(config_for(sim, markets=["BTC-USD"])) as (_, tap):
        await tap.kind("subscription.error", action="retry")
        await tap.kind("orderbook", ticker="BTC-USD")


async def test_invalid_market_is_a_configuration_error_naming_it(sim, caplog):
    async with running(config_for(sim, markets=["NOPE-USD"])) as (_, tap):
        error = await tap.kind("subscription.error", action="retry_later")
        assert "NOPE-USD" in error.data["message"]
    assert any(
        "configuration error" in r.getMessage() and "NOPE-USD" in r.getMessage()
        for r in caplog.records
    )


async def test_blocked_address_is_reported(sim):
    sim.block_address(ACC.split("/")[0])
    async with running(config_for(sim)) as (_, tap):
        error = await tap.kind("subscription.error", action="blocked")
        assert "blocked" in error.data["message"]


async def test_server_cap_moves_subscriptions_to_new_connections(sim):
    sim.settings.caps["v4_trades"] = 1
    async with running(config_for(sim)) as (source, tap):
        await tap.kind("subscription.error", action="shard")
        for ticker in ("BTC-USD", "ETH-USD"):
            sim.set_price(ticker, 1234.0)
        conns = {
            e.conn
            for e in await asyncio.gather(
                *(tap.kind("connection.connected", conn=i) for i in (0, 1))
            )
        }
        assert conns == {0, 1}
        assert len(source.feed.conns) == 2
        trades = [s for s in source.feed.conns[1].subs.values() if s.sub.channel == "v4_trades"]
        assert len(trades) == 1


async def test_retries_never_trip_the_subscribe_rate_limit(sim):
    sim.fail_snapshots("v4_trades", 4)
    config = config_for(sim, markets=["BTC-USD"], market_channels=["trades"], snapshot_retry="10ms")
    async with running(config) as (_, tap):
        for _ in range(4):
            await tap.kind("subscription.error", action="retry", after=0)
        await tap.wait(lambda e: sum(1 for k in sim.subscribe_log if k[2] == "v4_trades") >= 5)
        times = [t for t, _i, ch, _id in sim.subscribe_log if ch == "v4_trades"]
        assert all(later - earlier >= 1.0 for earlier, later in zip(times, times[2:], strict=False))
        assert tap.count("connection.lost", code=1008) == 0


async def test_rest_polling_fallback_and_no_duplicates_when_back(sim):
    async with running(config_for(sim)) as (_, tap):
        await tap.kind("account", origin="snapshot")
        sim.refuse_connections(True)
        await sim.disconnect_all(1006)
        polling = await tap.kind("source.polling", active=True)
        assert polling.data["down_for"] >= 0.2
        order_id = sim.place_order(ACC, "ETH-USD", "SELL", 0.5, 3100)
        fill_id = sim.fill_order(order_id)
        fill = await tap.kind("fill", id=fill_id)
        assert fill.conn == -1  # from REST
        await tap.kind("order.filled", order_id=order_id)
        await tap.kind("account", origin="rest")
        mark = len(tap.events)
        sim.refuse_connections(False)
        await tap.kind("source.polling", active=False, after=mark)
        await tap.kind("account", origin="snapshot", after=mark)
        sim.set_price("ETH-USD", 3001)
        await tap.kind("market", ticker="ETH-USD", oracle_price=3001.0, after=mark)
        assert tap.count("fill", id=fill_id) == 1
        assert tap.count("order.filled", order_id=order_id) == 1


async def test_stop_closes_cleanly(sim):
    source = IndexerSource(config_for(sim), env={})
    async with source:
        tap = Tap(source)
        await tap.kind("account", origin="snapshot")
        await tap.close()
    assert source._sockets == {}
    assert all(t.done() for t in source._conn_tasks.values())
