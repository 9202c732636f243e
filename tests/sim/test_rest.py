"""The REST half of the port: comlink's routes and shapes, equal to what the snapshots say."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from alertbot.sim import Simulator, load_scenario
from alertbot.sim.rest import COMPLIANCE_BLOCKED
from tests.sim.test_wire import ACCOUNT, ADDRESS, client, settings

Q = f"address={ADDRESS}&subaccountNumber=0"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(load_scenario("basic"), settings()) as s:
        yield s


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as c:
        yield c


async def test_urls_share_one_loopback_port(sim):
    assert sim.ws_url == f"ws://127.0.0.1:{sim.port}/v4/ws"
    assert sim.rest_url == f"http://127.0.0.1:{sim.port}/v4"


async def test_subaccount_equity_matches_snapshot_and_formula(sim, http):
    sim.set_price("ETH-USD", 3100)
    response = await http.get(f"{sim.rest_url}/addresses/{ADDRESS}/subaccountNumber/0")
    assert response.headers["content-type"].startswith("application/json")
    sub = response.json()["subaccount"]
    async with client(sim) as c:
        snap = (await c.subscribe("v4_subaccounts", ACCOUNT))["contents"]["subaccount"]
    assert (sub["equity"], sub["freeCollateral"]) == (snap["equity"], snap["freeCollateral"])
    # equity = 10000 + (-1.5 x 3100) = 5350; free = 5350 - 4650 x 0.05 = 5117.5
    assert (sub["equity"], sub["freeCollateral"]) == ("5350", "5117.5")
    assert sim.equity(ACCOUNT) == (5350.0, 5117.5)
    assert sub["openPerpetualPositions"]["ETH-USD"]["unrealizedPnl"] == "-131.25"


async def test_address_and_parent_routes(sim, http):
    sim.transfer(f"{ADDRESS}/128", 100)
    whole = (await http.get(f"{sim.rest_url}/addresses/{ADDRESS}")).json()
    assert [s["subaccountNumber"] for s in whole["subaccounts"]] == [0, 128]
    assert whole["totalTradingRewards"] == "0"
    parent = await http.get(f"{sim.rest_url}/addresses/{ADDRESS}/parentSubaccountNumber/0")
    assert parent.json()["subaccount"]["equity"] == "5600"


async def test_orders_fills_transfers_positions(sim, http):
    order_id = sim.place_order(ACCOUNT, "ETH-USD", "SELL", 0.3, 3010)
    sim.fill_order(order_id, liquidity="TAKER")
    sim.transfer(ACCOUNT, 25, type="DEPOSIT")
    orders = (await http.get(f"{sim.rest_url}/orders?{Q}")).json()
    assert isinstance(orders, list)
    assert orders[0]["id"] == order_id
    open_only = (await http.get(f"{sim.rest_url}/orders?{Q}&status=OPEN,UNTRIGGERED")).json()
    assert [o["status"] for o in open_only] == ["UNTRIGGERED"]
    one = (await http.get(f"{sim.rest_url}/orders/{order_id}")).json()
    assert (one["status"], one["totalFilled"], one["subaccountNumber"]) == ("FILLED", "0.3", 0)
    fills = (await http.get(f"{sim.rest_url}/fills?{Q}")).json()["fills"]
    assert (fills[0]["market"], fills[0]["marketType"], fills[0]["fee"]) == (
        "ETH-USD",
        "PERPETUAL",
        "0.4515",
    )
    transfers = (await http.get(f"{sim.rest_url}/transfers?{Q}")).json()["transfers"]
    assert (transfers[0]["type"], transfers[0]["size"], transfers[0]["symbol"]) == (
        "DEPOSIT",
        "25",
        "USDC",
    )
    positions = (await http.get(f"{sim.rest_url}/perpetualPositions?{Q}&status=OPEN")).json()
    assert positions["positions"][0]["size"] == "-1.8"
    assets = (await http.get(f"{sim.rest_url}/assetPositions?{Q}")).json()["positions"]
    assert assets[0]["symbol"] == "USDC"


async def test_market_routes(sim, http):
    markets = (await http.get(f"{sim.rest_url}/perpetualMarkets?ticker=BTC-USD")).json()
    assert list(markets["markets"]) == ["BTC-USD"]
    book = (await http.get(f"{sim.rest_url}/orderbooks/perpetualMarket/ETH-USD")).json()
    assert set(book) == {"bids", "asks"}
    trades = (await http.get(f"{sim.rest_url}/trades/perpetualMarket/ETH-USD")).json()
    assert trades["trades"][0]["createdAtHeight"]
    candles = (
        await http.get(f"{sim.rest_url}/candles/perpetualMarkets/BTC-USD?resolution=1HOUR")
    ).json()
    assert candles["candles"][0]["resolution"] == "1HOUR"
    height = (await http.get(f"{sim.rest_url}/height")).json()
    assert height["height"] == "45000000"
    clock = (await http.get(f"{sim.rest_url}/time")).json()
    assert isinstance(clock["epoch"], float)
    assert clock["iso"].endswith("Z")


async def test_errors(sim, http):
    missing = await http.get(f"{sim.rest_url}/addresses/{ADDRESS}/subaccountNumber/9")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["msg"].startswith("No subaccount found")
    bad = await http.get(f"{sim.rest_url}/addresses/{ADDRESS}/subaccountNumber/128001")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["path"] == "subaccountNumber"
    outside = await http.get(f"http://127.0.0.1:{sim.port}/elsewhere")
    assert outside.status_code == 404
    assert "errors" in outside.json()
    unknown = await http.get(f"{sim.rest_url}/nothing/here")
    assert unknown.status_code == 404
    sim.block_address(ADDRESS)
    blocked = await http.get(f"{sim.rest_url}/addresses/{ADDRESS}")
    assert blocked.status_code == 403
    assert blocked.json()["errors"][0] == {"msg": COMPLIANCE_BLOCKED, "code": "COMPLIANCE_BLOCKED"}
