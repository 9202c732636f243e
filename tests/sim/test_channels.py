"""Snapshot and update shapes for every channel, batched and unbatched, as real traffic has them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from alertbot.sim import Simulator, load_scenario
from tests.sim.test_wire import ACCOUNT, ADDRESS, client, settings

HEX_EVENT = re.compile(r"^[0-9a-f]{24}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(load_scenario("basic"), settings()) as s:
        yield s


async def test_subaccount_snapshot_merges_subaccount_orders_and_height(sim):
    async with client(sim) as c:
        snap = await c.subscribe("v4_subaccounts", ACCOUNT)
    assert list(snap) == ["type", "connection_id", "message_id", "channel", "id", "contents"]
    contents = snap["contents"]
    assert set(contents) == {"subaccount", "orders", "blockHeight"}
    sub = contents["subaccount"]
    assert (sub["equity"], sub["freeCollateral"]) == ("5500", "5275")
    eth = sub["openPerpetualPositions"]["ETH-USD"]
    assert (eth["side"], eth["size"], eth["entryPrice"]) == ("SHORT", "-1.5", "3012.5")
    assert sub["assetPositions"]["USDC"] == {
        "size": "10000",
        "symbol": "USDC",
        "side": "LONG",
        "assetId": "0",
        "subaccountNumber": 0,
    }
    (stop,) = contents["orders"]
    assert (stop["status"], stop["type"], stop["orderFlags"]) == ("UNTRIGGERED", "STOP_LIMIT", "32")
    assert stop["triggerPrice"] == "3250"
    assert stop["subaccountNumber"] == 0
    assert UUID.match(stop["id"])
    assert UUID.match(stop["subaccountId"])
    assert contents["blockHeight"] == "45000000"


async def test_parent_snapshot_sums_children(sim):
    sim.transfer(f"{ADDRESS}/128", 250)  # an isolated child of parent 0
    async with client(sim) as c:
        snap = await c.subscribe("v4_parent_subaccounts", ACCOUNT)
    parent = snap["contents"]["subaccount"]
    assert set(parent) == {
        "address",
        "parentSubaccountNumber",
        "equity",
        "freeCollateral",
        "childSubaccounts",
    }
    assert parent["equity"] == "5750"
    assert [child["subaccountNumber"] for child in parent["childSubaccounts"]] == [0, 128]
    assert snap["contents"]["blockHeight"] == "45000000"


async def test_market_data_snapshots(sim):
    async with client(sim) as c:
        book = (await c.subscribe("v4_orderbook", "BTC-USD"))["contents"]
        trades = (await c.subscribe("v4_trades", "ETH-USD"))["contents"]["trades"]
        markets = await c.subscribe("v4_markets")
        candles = (await c.subscribe("v4_candles", "BTC-USD/1MIN"))["contents"]["candles"]
        height = await c.subscribe("v4_block_height")
    assert set(book["bids"][0]) == {"price", "size"}
    bids = [float(level["price"]) for level in book["bids"]]
    asks = [float(level["price"]) for level in book["asks"]]
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert bids[0] < asks[0]
    assert all(HEX_EVENT.match(t["id"]) for t in trades)
    assert all(int(t["id"][:8], 16) == int(t["createdAtHeight"]) for t in trades)
    assert "id" not in markets
    btc = markets["contents"]["markets"]["BTC-USD"]
    assert (btc["oraclePrice"], btc["clobPairId"], btc["atomicResolution"]) == ("60000", "0", -10)
    assert (btc["stepBaseQuantums"], btc["subticksPerTick"]) == (1000000, 100000)
    assert candles[0]["resolution"] == "1MIN"
    assert candles[0]["ticker"] == "BTC-USD"
    assert height["id"] == "v4_block_height"
    assert set(height["contents"]) == {"height", "time"}


async def test_subaccount_updates_for_order_fill_cancel_and_transfer(sim):
    async with client(sim) as c:
        await c.subscribe("v4_subaccounts", ACCOUNT)
        order_id = sim.place_order(ACCOUNT, "ETH-USD", "BUY", 1, 2990)
        placed = await c.recv()
        assert (placed["type"], placed["version"], placed["id"]) == (
            "channel_data",
            "3.0.0",
            ACCOUNT,
        )
        assert "subaccountNumber" not in placed
        (order,) = placed["contents"]["orders"]
        assert (order["id"], order["status"], order["orderFlags"]) == (order_id, "OPEN", "64")
        assert "totalFilled" not in order  # vulcan placements carry no totalFilled
        sim.fill_order(order_id, 0.4)
        fill_msg = (await c.recv())["contents"]
        assert set(fill_msg) == {
            "blockHeight",
            "fills",
            "orders",
            "perpetualPositions",
            "assetPositions",
        }
        (fill,) = fill_msg["fills"]
        assert (fill["ticker"], fill["size"], fill["liquidity"]) == ("ETH-USD", "0.4", "MAKER")
        assert "market" not in fill
        assert HEX_EVENT.match(fill["eventId"])
        assert (fill["orderId"], fill["quoteAmount"], fill["fee"]) == (order_id, "1196", "0.1196")
        assert fill_msg["orders"][0]["totalFilled"] == "0.4"
        assert fill_msg["orders"][0]["status"] == "OPEN"
        assert fill_msg["perpetualPositions"][0]["size"] == "-1.1"
        assert fill_msg["assetPositions"][0]["size"] == "8803.8804"
        sim.fill_order(order_id)
        done = (await c.recv())["contents"]
        assert (done["orders"][0]["status"], done["orders"][0]["totalFilled"]) == ("FILLED", "1")
        sim.cancel_order(sim.order_refs["stop"])
        canceled = (await c.recv())["contents"]["orders"][0]
        assert canceled["status"] == "CANCELED"
        assert canceled["removalReason"] == "ORDER_REMOVAL_REASON_USER_CANCELED"
        sim.transfer(ACCOUNT, 100, type="WITHDRAWAL")
        moved = (await c.recv())["contents"]
        assert moved["transfers"]["type"] == "WITHDRAWAL"
        assert moved["transfers"]["sender"] == {"address": ADDRESS, "subaccountNumber": 0}
        assert moved["transfers"]["recipient"] == {"address": ADDRESS}


async def test_trigger_and_best_effort_orders(sim):
    async with client(sim) as c:
        await c.subscribe("v4_subaccounts", ACCOUNT)
        sim.trigger_order(sim.order_refs["stop"])
        assert (await c.recv())["contents"]["orders"][0]["status"] == "OPEN"
        short = sim.place_order(
            ACCOUNT, "BTC-USD", "SELL", 0.01, 61000, status="BEST_EFFORT_OPENED"
        )
        placed = (await c.recv())["contents"]["orders"][0]
        # the snapshot showed height 45000000 as processed: activity since is in 45000001
        assert (placed["orderFlags"], placed["goodTilBlock"]) == ("0", "45000021")
        assert "createdAtHeight" not in placed
        sim.cancel_order(short, best_effort=True)
        assert (await c.recv())["contents"]["orders"][0]["status"] == "BEST_EFFORT_CANCELED"
        snap = await c.subscribe("v4_subaccounts", f"{ADDRESS}/0")  # already subscribed
        assert snap["type"] == "error"


async def test_public_updates_trades_book_markets_candles_height(sim):
    async with client(sim) as c:
        await c.subscribe("v4_trades", "ETH-USD")
        await c.subscribe("v4_candles", "ETH-USD/5MINS")
        await c.subscribe("v4_orderbook", "ETH-USD")
        await c.subscribe("v4_markets")
        await c.subscribe("v4_block_height")
        order_id = sim.place_order(ACCOUNT, "ETH-USD", "BUY", 0.5, 2990)
        sim.fill_order(order_id, liquidity="MAKER")
        trade = await c.recv()
        assert (trade["channel"], trade["version"], trade["id"]) == (
            "v4_trades",
            "2.1.0",
            "ETH-USD",
        )
        (item,) = trade["contents"]["trades"]
        assert item["side"] == "SELL"  # the taker's side: our BUY was the maker
        assert "createdAtHeight" not in item
        assert int(item["id"][:8], 16) == 45000000
        trading = await c.recv()
        assert trading["contents"] == {
            "trading": {"ETH-USD": {"id": "1", "trades24H": 1, "volume24H": "1495"}}
        }
        candle = await c.recv()
        assert (candle["channel"], candle["contents"]["resolution"]) == ("v4_candles", "5MINS")
        assert candle["contents"]["trades"] == 1
        sim.set_price("ETH-USD", 3100)
        oracle = await c.recv()
        assert "id" not in oracle
        assert oracle["version"] == "1.0.0"
        entry = oracle["contents"]["oraclePrices"]["ETH-USD"]
        assert (entry["oraclePrice"], entry["marketId"]) == ("3100", 1)
        sim.new_block()
        levels = []
        while (book := await c.recv())["channel"] == "v4_orderbook":
            updates = book["contents"].get("bids", []) + book["contents"].get("asks", [])
            assert len(updates) == 1  # one level per update, as the Indexer sends them
            levels += updates
        assert all(isinstance(level, list) and len(level) == 2 for level in levels)
        assert any(level[1] == "0" for level in levels)  # old levels are deleted with "0"
        block = book
        assert block["id"] == "v4_block_height"
        assert block["contents"]["blockHeight"] == "45000001"


async def test_parent_channel_updates_carry_the_child_number(sim):
    async with client(sim) as c:
        await c.subscribe("v4_parent_subaccounts", ACCOUNT)
        sim.transfer(f"{ADDRESS}/256", 40)
        update = await c.recv()
        assert (update["channel"], update["id"], update["subaccountNumber"]) == (
            "v4_parent_subaccounts",
            ACCOUNT,
            256,
        )
        assert list(update)[-1] == "subaccountNumber"


async def test_batched_subscriptions_get_lists_unbatched_get_one_each(sim):
    async with client(sim) as batched, client(sim) as plain:
        await batched.subscribe("v4_markets", batched=True)
        await plain.subscribe("v4_markets")
        for price in (3001, 3002, 3003):
            sim.set_price("ETH-USD", price)
        batch = await batched.recv()
        assert (batch["type"], batch["message_id"]) == ("channel_batch_data", 2)
        assert [u["oraclePrices"]["ETH-USD"]["oraclePrice"] for u in batch["contents"]] == [
            "3001",
            "3002",
            "3003",
        ]
        singles = [await plain.recv() for _ in range(3)]
        assert [m["message_id"] for m in singles] == [2, 3, 4]
        assert {m["type"] for m in singles} == {"channel_data"}


async def test_parent_batches_are_split_per_child(sim):
    async with client(sim) as c:
        await c.subscribe("v4_parent_subaccounts", ACCOUNT, batched=True)
        sim.transfer(ACCOUNT, 1)
        sim.transfer(f"{ADDRESS}/128", 2)
        sim.transfer(ACCOUNT, 3)
        first, second = await c.recv(), await c.recv()
    assert (first["subaccountNumber"], len(first["contents"])) == (0, 2)
    assert (second["subaccountNumber"], len(second["contents"])) == (128, 1)
    assert (first["message_id"], second["message_id"]) == (2, 3)


async def test_liquidation_fill_closes_the_position(sim):
    async with client(sim) as c:
        await c.subscribe("v4_subaccounts", ACCOUNT)
        await c.subscribe("v4_trades", "ETH-USD")
        fill_id = sim.liquidate(ACCOUNT, "ETH-USD", 3400)
        update = (await c.recv())["contents"]
        (fill,) = update["fills"]
        assert (fill["id"], fill["type"], fill["liquidity"]) == (fill_id, "LIQUIDATED", "TAKER")
        assert "orderId" not in fill
        assert "orders" not in update
        (position,) = update["perpetualPositions"]
        assert (position["status"], position["size"]) == ("CLOSED", "0")
        trade = (await c.recv())["contents"]["trades"][0]
        assert (trade["type"], trade["side"]) == ("LIQUIDATED", "BUY")
    assert sim.equity(ACCOUNT) == (4897.45, 4897.45)
