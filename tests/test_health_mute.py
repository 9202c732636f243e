"""/healthz follows the age of the last message: a connection that is up but mute turns 503."""

from __future__ import annotations

import asyncio

import httpx

from alertbot.app import App
from alertbot.config_load import parse_config
from alertbot.sim import SimSettings, Simulator, load_scenario
from tests.test_cli import ACC
from tests.test_health_e2e import until


async def test_an_up_but_mute_connection_is_unhealthy_then_healthy_again(tmp_path):
    sim = Simulator(load_scenario("demo"), SimSettings(block_interval=0.1))
    await sim.start()
    text = f"""
source: {{ws_url: "{sim.ws_url}", rest_url: "{sim.rest_url}", subaccounts: [{ACC}],
          markets: [BTC-USD], silence_timeout: 30s, ping_interval: 30s, ping_timeout: 30s}}
state_dir: {tmp_path / "state"}
http: {{listen: "127.0.0.1:0", unhealthy_after: 500ms}}
rules: []
"""
    app = App(parse_config(text, "rules.yaml", env={}), config_path=tmp_path / "rules.yaml")
    task = asyncio.create_task(app.run())
    try:
        await asyncio.wait_for(app.ready.wait(), 10)
        assert app.web is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.web.port}") as client:

            async def status_is(code: int) -> bool:
                return (await client.get("/healthz")).status_code == code

            async def up_and_ok() -> bool:  # connections open after the catch-up round
                reply = await client.get("/healthz")
                conns = reply.json()["connections"]
                return reply.status_code == 200 and bool(conns) and conns[0]["state"] == "up"

            await until(up_and_ok)
            sim.stall(30)  # the socket stays open; nothing arrives, pings go unanswered
            await until(lambda: status_is(503))
            body = (await client.get("/healthz")).json()
            assert body["connections"][0]["state"] == "up"  # up, yet unhealthy
            assert body["connections"][0]["last_message_age"] > 0.5
            assert body["reasons"][0].startswith("connection 0 silent for")
            sim.resume()  # the feed speaks again: healthy without a reconnect
            await until(lambda: status_is(200))
            assert app.events["connection.lost"] == 0
    finally:
        app.stop()
        await asyncio.wait_for(task, 15)
        await sim.stop()
