"""Fault injection: late snapshots, gaps, stalls, heartbeat timeouts, restarts, refusals, drops."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from alertbot.sim import Simulator, load_scenario
from tests.sim.test_wire import ACCOUNT, TIMEOUT, client, settings


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(load_scenario("basic"), settings()) as s:
        yield s


async def test_late_snapshot_arrives_after_higher_message_ids(sim):
    sim.delay_snapshots("v4_subaccounts", 0.5)
    async with client(sim) as c:
        await c.subscribe("v4_markets")
        await c.send(type="subscribe", channel="v4_subaccounts", id=ACCOUNT)
        trades = await c.subscribe("v4_trades", "BTC-USD")  # proves the slow one was read
        sim.set_price("BTC-USD", 60500)
        arrivals = [trades, await c.recv(), await c.recv()]
    assert [(m["type"], m["message_id"]) for m in arrivals] == [
        ("subscribed", 3),
        ("channel_data", 4),
        ("subscribed", 2),
    ]
    assert arrivals[2]["channel"] == "v4_subaccounts"


async def test_dropped_messages_leave_a_message_id_gap(sim):
    async with client(sim) as c:
        await c.subscribe("v4_markets")
        sim.drop_messages(2)
        for price in (61000, 62000, 63000):
            sim.set_price("BTC-USD", price)
        arrived = await c.recv()
    assert arrived["message_id"] == 4  # 2 and 3 were counted, never sent
    assert arrived["contents"]["oraclePrices"]["BTC-USD"]["oraclePrice"] == "63000"


async def test_stall_holds_data_and_leaves_client_pings_unanswered(sim):
    async with client(sim, ping_interval=None) as c:
        await c.subscribe("v4_markets")
        began = time.monotonic()
        sim.stall(0.4)
        sim.set_price("BTC-USD", 61000)
        pong = await c.ws.ping()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(pong), 0.2)
        update = await c.recv()
        assert time.monotonic() - began >= 0.35
        assert update["message_id"] == 2
        await asyncio.wait_for(pong, TIMEOUT)  # answered once the stall is over


async def _raw_upgrade(sim: Simulator) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /v4/ws HTTP/1.1\r\nHost: 127.0.0.1:{sim.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    assert head.startswith(b"HTTP/1.1 101")
    return reader, writer


async def _frames_until_close(reader: asyncio.StreamReader) -> tuple[list[int], int, str]:
    """Read server frames (never answering pings) until the close frame."""
    opcodes = []
    while True:
        first, second = await reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await reader.readexactly(8))
        payload = await reader.readexactly(length)
        opcodes.append(first & 0x0F)
        if first & 0x0F == 0x8:
            (code,) = struct.unpack("!H", payload[:2])
            return opcodes, code, payload[2:].decode()


async def test_heartbeat_closes_1011_when_pings_go_unanswered():
    quick = settings(heartbeat_interval=0.1, heartbeat_timeout=0.15)
    async with Simulator(load_scenario("basic"), quick) as s:
        reader, writer = await _raw_upgrade(s)
        opcodes, code, reason = await asyncio.wait_for(_frames_until_close(reader), TIMEOUT)
        writer.close()
    assert opcodes[0] == 0x1  # the `connected` text frame
    assert 0x9 in opcodes  # a ping frame came before the close
    assert (code, reason) == (1011, "Heartbeat timeout")


async def test_heartbeat_keeps_a_ponging_client_connected():
    quick = settings(heartbeat_interval=0.05, heartbeat_timeout=0.25, block_interval=0.05)
    async with Simulator(load_scenario("basic"), quick) as s, client(s) as c:
        await c.subscribe("v4_block_height")
        heights = [int((await c.recv())["contents"]["blockHeight"]) for _ in range(8)]
        assert heights == sorted(heights)  # 8 blocks = several heartbeat rounds, still open
        assert c.ws.close_code is None


async def test_stop_closes_every_socket_with_1012():
    s = Simulator(load_scenario("basic"), settings())
    await s.start()
    async with client(s) as one, client(s) as two:
        await s.stop()
        for c in (one, two):
            assert await c.closed() == (1012, '{"message":"Service restarting"}')


async def test_refused_upgrades_get_503_while_rest_works(sim):
    sim.refuse_connections()
    with pytest.raises(InvalidStatus) as refused:
        await connect(sim.ws_url)
    assert refused.value.response.status_code == 503
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{sim.rest_url}/height")).status_code == 200
    sim.refuse_connections(False)
    async with client(sim) as c:
        assert (await c.subscribe("v4_markets"))["type"] == "subscribed"


async def test_disconnect_1006_aborts_without_a_close_frame(sim):
    async with client(sim) as one, client(sim) as two:
        await sim.disconnect_all()
        assert sim.connections == 0
        for c in (one, two):
            assert (await c.closed())[0] == 1006


@pytest.mark.parametrize(
    ("code", "reason"),
    [(1011, "Heartbeat timeout"), (1012, '{"message":"Service restarting"}'), (1000, "")],
)
async def test_disconnect_with_a_code_sends_the_documented_reason(sim, code, reason):
    async with client(sim) as c:
        await sim.disconnect_all(code)
        assert await c.closed() == (code, reason)


async def test_failed_snapshots_modern_and_legacy(sim):
    sim.fail_snapshots("v4_orderbook", 1)
    sim.fail_snapshots("v4_orderbook", 1, legacy=True)
    async with client(sim) as c:
        modern = await c.subscribe("v4_orderbook", "BTC-USD")
        legacy = await c.subscribe("v4_orderbook", "ETH-USD")
        works = await c.subscribe("v4_orderbook", "ETH-USD")
    text = "Internal error, could not fetch data for subscription: v4_orderbook."
    assert (modern["message"], modern["channel"], modern["id"]) == (text, "v4_orderbook", "BTC-USD")
    assert legacy["message"] == text
    assert "channel" not in legacy
    assert "id" not in legacy
    assert works["type"] == "subscribed"
