"""/healthz and /metrics of a running app: 503 while the Indexer is gone, 200 once it is back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from alertbot.app import App
from alertbot.config_load import parse_config
from alertbot.sim import SimSettings, Simulator, load_scenario
from tests.test_cli import ACC

FAMILIES = {
    "alertbot_messages",
    "alertbot_events",
    "alertbot_alerts",
    "alertbot_deliveries",
    "alertbot_outbox_depth",
    "alertbot_reconnects",
    "alertbot_gaps",
    "alertbot_last_message_age_seconds",
    "alertbot_frame_to_notification_seconds",
}


def config_for(sim: Simulator, state: Path):
    text = f"""
source: {{ws_url: "{sim.ws_url}", rest_url: "{sim.rest_url}", subaccounts: [{ACC}],
          markets: [BTC-USD], reconnect: {{initial: 20ms, max: 100ms}}}}
state_dir: {state}
http: {{listen: "127.0.0.1:0", unhealthy_after: 500ms}}
rules:
  - name: account-seen
    on: account
    when: equity > 0
"""
    return parse_config(text, "rules.yaml", env={})


async def until(check: Callable[[], object], within: float = 10.0) -> None:
    """Poll a condition owned by another component, bounded in time."""
    async with asyncio.timeout(within):
        while not await check():  # type: ignore[misc]  # noqa: ASYNC110 - state is in the app
            await asyncio.sleep(0.02)


async def test_health_follows_the_indexer_and_metrics_parse(tmp_path):
    settings = SimSettings(block_interval=0.1)
    sim = Simulator(load_scenario("demo"), settings)
    await sim.start()
    app = App(config_for(sim, tmp_path / "state"), config_path=tmp_path / "rules.yaml")
    task = asyncio.create_task(app.run())
    try:
        await asyncio.wait_for(app.ready.wait(), 10)
        assert app.web is not None
        base = f"http://127.0.0.1:{app.web.port}"
        async with httpx.AsyncClient(base_url=base) as client:

            async def status_is(code: int) -> bool:
                return (await client.get("/healthz")).status_code == code

            async def connected() -> bool:  # after the start's catch-up round over REST
                body = (await client.get("/healthz")).json()
                return bool(body["connections"]) and body["connections"][0]["state"] == "up"

            await until(connected)
            assert await status_is(200)
            await sim.stop()  # the Indexer goes away
            await until(lambda: status_is(503))
            sim = Simulator(load_scenario("demo"), SimSettings(block_interval=0.1, port=sim.port))
            await sim.start()  # and comes back on the same address
            await until(lambda: status_is(200))
            metrics = (await client.get("/metrics")).text
        names = {family.name for family in text_string_to_metric_families(metrics)}
        assert names >= FAMILIES, FAMILIES - names
        reconnects = next(
            s.value
            for f in text_string_to_metric_families(metrics)
            for s in f.samples
            if s.name == "alertbot_reconnects_total"
        )
        assert reconnects >= 1
        tracked = {
            s.labels["map"]: s.value
            for f in text_string_to_metric_families(metrics)
            for s in f.samples
            if s.name == "alertbot_tracked_entries"
        }
        assert tracked["markets"] >= 1  # the source's maps, read at scrape time
        assert tracked["subscriptions"] >= 1
        assert "alert_identities" in tracked  # and the engine's
    finally:
        app.stop()
        await asyncio.wait_for(task, 15)
        await sim.stop()
