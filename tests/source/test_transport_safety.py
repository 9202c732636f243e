"""TLS verification is always on, and a rate-limit close (1008) makes the source slow down."""

from __future__ import annotations

import asyncio
import logging
import ssl

import pytest
import trustme
from websockets.asyncio.server import ServerConnection, serve

from alertbot.sim import SimSettings, Simulator, load_scenario
from alertbot.source.client import IndexerSource
from tests.source.test_live import Tap, config_for


async def test_untrusted_certificate_is_refused(caplog):
    """A wss:// server with a certificate no system CA signed must never be talked to."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    reached = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        reached.set()
        await ws.send('{"type":"connected","connection_id":"x","message_id":0}')

    async with serve(handler, "127.0.0.1", 0, ssl=server_ctx) as server:
        port = server.sockets[0].getsockname()[1]
        async with Simulator(load_scenario("basic"), SimSettings(block_interval=0)) as sim:
            config = config_for(sim, ws_url=f"wss://127.0.0.1:{port}/v4/ws")
            source = IndexerSource(config, env={})
            async with source:
                tap = Tap(source)
                await tap.kind("source.polling", active=True)  # the socket never came up
                await tap.close()
    assert source.feed.conn(0).attempts >= 1
    assert not reached.is_set()
    refused = [r for r in caplog.records if "CERTIFICATE_VERIFY_FAILED" in r.getMessage()]
    assert refused
    assert refused[0].levelno == logging.ERROR


@pytest.fixture
async def strict_sim():
    settings = SimSettings(
        block_interval=0.1, subscribe_rate_points=0
    )  # every subscribe is "too many"
    async with Simulator(load_scenario("basic"), settings) as sim:
        yield sim


async def test_rate_limit_close_slows_the_source_down(strict_sim):
    source = IndexerSource(config_for(strict_sim), env={}, rng=lambda: 1.0)
    before = source.config.subscribe_rate
    async with source:
        tap = Tap(source)
        lost = await tap.kind("connection.lost", code=1008)
        assert "Rate limited" in lost.data["reason"]
        error = await tap.kind("subscription.error", action="slow_down")
        assert "Too many subscribe attempts" in error.data["message"]
        await tap.close()
    assert source._pacers[0].rate < before
