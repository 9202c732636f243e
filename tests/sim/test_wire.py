"""The simulator's WebSocket protocol over real loopback sockets: counter, errors, limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from alertbot.sim import SimSettings, Simulator, load_scenario
from alertbot.sim.rest import COMPLIANCE_BLOCKED

ADDRESS = "dydx199tqg4wdlnu4qjlxchpd7seg454937hjrknju4"
ACCOUNT = f"{ADDRESS}/0"
TIMEOUT = 5


class Client:
    """A thin JSON wrapper over a websockets client connection."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.connection_id = ""

    async def send(self, **message: Any) -> None:
        await self.ws.send(orjson.dumps(message).decode())

    async def send_raw(self, text: str) -> None:
        await self.ws.send(text)

    async def recv(self) -> dict[str, Any]:
        return orjson.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))

    async def subscribe(self, channel: str, id: str | None = None, **extra: Any) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "subscribe", "channel": channel, **extra}
        if id is not None:
            message["id"] = id
        await self.send(**message)
        return await self.recv()

    async def closed(self) -> tuple[int | None, str | None]:
        """Drain until the server closes; return (code, reason) as the client saw them."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), TIMEOUT)
        except ConnectionClosed:
            return self.ws.close_code, self.ws.close_reason


@asynccontextmanager
async def client(sim: Simulator, **kwargs: Any) -> AsyncIterator[Client]:
    async with connect(sim.ws_url, **kwargs) as ws:
        c = Client(ws)
        hello = await c.recv()
        assert hello["type"] == "connected"
        c.connection_id = hello["connection_id"]
        yield c


def settings(**overrides: Any) -> SimSettings:
    return SimSettings(**{"block_interval": 0, "batch_interval": 0.05, **overrides})


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(load_scenario("basic"), settings()) as s:
        yield s


async def test_connected_is_first_and_message_id_starts_at_zero(sim):
    async with connect(sim.ws_url) as ws:
        hello = orjson.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert list(hello) == ["type", "connection_id", "message_id"]
    assert hello["message_id"] == 0
    assert len(hello["connection_id"]) == 36


async def test_message_id_counts_answers_and_data_but_not_bad_requests(sim):
    async with client(sim) as c:
        await c.send(type="ping")  # ignored: no reply, no increment
        first = await c.subscribe("v4_markets")
        assert (first["type"], first["message_id"]) == ("subscribed", 1)
        bad_channel = await c.subscribe("v4_orders", "x")
        assert bad_channel["message"] == "Invalid channel: v4_orders"
        assert bad_channel["message_id"] == 1
        assert "channel" not in bad_channel
        assert "id" not in bad_channel
        missing_id = await c.subscribe("v4_trades")
        assert (missing_id["message"], missing_id["message_id"]) == ("Invalid id: undefined", 1)
        numeric = await c.subscribe("v4_trades", 123)  # type: ignore[arg-type]
        assert numeric["message"] == "Invalid id: 123"
        trades = await c.subscribe("v4_trades", "BTC-USD")
        assert trades["message_id"] == 2
        sim.set_price("BTC-USD", 61000)
        update = await c.recv()
        assert (update["type"], update["channel"], update["message_id"]) == (
            "channel_data",
            "v4_markets",
            3,
        )
        await c.send(type="unsubscribe", channel="v4_trades", id="BTC-USD")
        gone = await c.recv()
        assert gone == {
            "type": "unsubscribed",
            "connection_id": c.connection_id,
            "message_id": 4,
            "channel": "v4_trades",
            "id": "BTC-USD",
        }
        await c.send(type="unsubscribe", channel="v4_markets")
        assert "id" not in (await c.recv())


async def test_error_texts_are_socks_texts():
    relaxed = settings(invalid_rate_points=100)
    async with Simulator(load_scenario("basic"), relaxed) as s, client(s) as c:
        cases = [
            ("not json", "Invalid message: could not parse"),
            ("{}", "Invalid message: type is required"),
            ('{"type":"hello"}', "Invalid message type: hello"),
            ('{"type":"subscribe"}', "Invalid subscribe message: channel is required"),
            ('{"type":"unsubscribe"}', "Invalid subscribe message: channel is required"),
            ('{"type":"subscribe","channel":"v4_subaccounts"}', "Invalid id: undefined"),
        ]
        for raw, text in cases:
            await c.send_raw(raw)
            reply = await c.recv()
            assert (reply["type"], reply["message"], reply["message_id"]) == ("error", text, 0)
        invalid_ids = [
            ("v4_trades", ACCOUNT),
            ("v4_orderbook", "DOGE-USD"),
            ("v4_subaccounts", f"{ADDRESS}/128000"),
            ("v4_subaccounts", ADDRESS),
            ("v4_parent_subaccounts", f"{ADDRESS}/128"),
            ("v4_candles", "BTC-USD/2MINS"),
        ]
        for n, (channel, sub_id) in enumerate(invalid_ids, start=1):
            reply = await c.subscribe(channel, sub_id)
            assert reply["message"] == f"Invalid subscription id for channel: ({channel}-{sub_id})"
            assert reply["message_id"] == n  # these come from subscribe(), after the increment


async def test_fetch_failure_and_compliance_errors_carry_channel_and_id(sim):
    sim.block_address(ADDRESS)
    async with client(sim) as c:
        blocked = await c.subscribe("v4_subaccounts", ACCOUNT)
        assert blocked["message"] == COMPLIANCE_BLOCKED
        assert (blocked["channel"], blocked["id"]) == ("v4_subaccounts", ACCOUNT)
        malformed = await c.subscribe("v4_subaccounts", "dydx-not!alnum/0")
        text = "Internal error, could not fetch data for subscription: v4_subaccounts."
        assert malformed["message"] == text
        assert malformed["id"] == "dydx-not!alnum/0"


async def test_unknown_subaccount_is_subscribed_with_empty_contents(sim):
    async with client(sim) as c:
        reply = await c.subscribe("v4_subaccounts", f"{ADDRESS}/7")
        assert (reply["type"], reply["contents"]) == ("subscribed", {})
        parent = await c.subscribe("v4_parent_subaccounts", f"{ADDRESS}/5")
        assert parent["contents"] == {}


async def test_already_subscribed_is_checked_after_the_fetch(sim):
    async with client(sim) as c:
        await c.subscribe("v4_trades", "ETH-USD")
        again = await c.subscribe("v4_trades", "ETH-USD")
        assert (
            again["message"] == "Invalid subscribe message: already subscribed (v4_trades-ETH-USD)"
        )
        assert (again["channel"], again["id"], again["message_id"]) == ("v4_trades", "ETH-USD", 2)
        await c.subscribe("v4_trades", "BTC-USD")
        sim.fail_snapshots("v4_trades")
        failed = await c.subscribe("v4_trades", "BTC-USD")  # the fetch fails before the check
        assert (
            failed["message"] == "Internal error, could not fetch data for subscription: v4_trades."
        )


async def test_third_subscribe_in_a_second_is_rate_limited_with_1008(sim):
    async with client(sim) as c:
        assert (await c.subscribe("v4_orderbook", "BTC-USD"))["type"] == "subscribed"
        assert (await c.subscribe("v4_orderbook", "BTC-USD"))["message"].startswith(
            "Invalid subscribe"
        )
        limited = await c.subscribe("v4_orderbook", "BTC-USD")
        assert limited["message"] == (
            "Too many subscribe attempts for channel v4_orderbook-BTC-USD. "
            "Please  reconnect and try again."
        )
        assert limited["message_id"] == 3
        assert await c.closed() == (1008, '{"message":"Rate limited"}')


async def test_markets_rate_limit_names_the_default_id(sim):
    async with client(sim) as c:
        for _ in range(2):
            await c.subscribe("v4_markets")
        limited = await c.subscribe("v4_markets")
        assert "channel v4_markets-v4_markets." in limited["message"]
        assert (await c.closed())[0] == 1008


async def test_three_invalid_messages_in_a_second_close_with_1008(sim):
    async with client(sim) as c:
        for _ in range(2):
            await c.send_raw("garbage")
            assert (await c.recv())["message"] == "Invalid message: could not parse"
        await c.send_raw("garbage")
        last = await c.recv()
        assert last["message"] == "Too many invalid messages. Please reconnect and try again."
        assert await c.closed() == (1008, '{"message":"Rate limited"}')


async def test_per_connection_cap_errors_but_keeps_the_connection(sim):
    async with client(sim) as c:
        assert (await c.subscribe("v4_block_height"))["id"] == "v4_block_height"
        capped = await c.subscribe("v4_block_height")
        text = "Per-connection subscription limit reached for v4_block_height (limit=1)."
        assert (capped["message"], capped["message_id"]) == (text, 2)
        assert (await c.subscribe("v4_markets"))["type"] == "subscribed"


async def test_cap_counts_per_channel_and_frees_on_unsubscribe():
    capped = settings(caps={**SimSettings().caps, "v4_orderbook": 1})
    async with Simulator(load_scenario("basic"), capped) as s, client(s) as c:
        await c.subscribe("v4_orderbook", "BTC-USD")
        reply = await c.subscribe("v4_orderbook", "ETH-USD")
        assert (
            reply["message"]
            == "Per-connection subscription limit reached for v4_orderbook (limit=1)."
        )
        await c.send(type="unsubscribe", channel="v4_orderbook", id="BTC-USD")
        assert (await c.recv())["type"] == "unsubscribed"
        assert (await c.subscribe("v4_orderbook", "ETH-USD"))["type"] == "subscribed"


async def test_subscribe_log_records_every_request(sim):
    async with client(sim) as c:
        await c.subscribe("v4_markets")
        await c.subscribe("v4_trades", "BTC-USD")
    assert [entry[1:] for entry in sim.subscribe_log] == [
        (0, "v4_markets", None),
        (0, "v4_trades", "BTC-USD"),
    ]
    assert sim.subscribe_log[0][0] <= sim.subscribe_log[1][0]


async def test_connections_counts_open_sockets(sim):
    async with client(sim), client(sim):
        assert sim.connections == 2
    await sim.disconnect_all()
    assert sim.connections == 0


def test_refuses_to_bind_beyond_loopback():
    with pytest.raises(ValueError, match="loopback"):
        Simulator(settings=SimSettings(host="0.0.0.0"))
