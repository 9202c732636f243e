"""Scheduled jobs: the digest's content, the heartbeat ping, and a digest from a running app."""

from __future__ import annotations

import asyncio
import io
from collections import Counter

import httpx

from alertbot.app import App
from alertbot.config_load import parse_config
from alertbot.jobs import HeartbeatConfig, digest, heartbeat
from alertbot.sim import SimSettings, Simulator, load_scenario
from tests.notify.fakes import FakeHttp
from tests.test_cli import ACC

ACCOUNT = {
    "address": "dydx1abc",
    "subaccount": 0,
    "equity": 1234.5,
    "margin_usage": 0.25,
    "position_count": 1,
    "positions": [{"unrealized_pnl": -12.5}],
}


def test_digest_lists_accounts_and_alerts_since_the_last_one():
    alerts = Counter({("equity-low", "firing"): 2, ("equity-low", "resolved"): 1})
    note = digest([ACCOUNT], alerts, since=0.0, now=86400.0, notify=("ops",), severity="info")
    assert note.title == "Digest: 1 account(s), 3 alert(s) in 1d"
    lines = note.message.splitlines()
    assert lines[0] == (
        "dydx1abc/0: equity 1,234.50 USDC, unrealized PnL -12.50, margin usage 25%, 1 position(s)"
    )
    assert lines[1] == "alerts since 1970-01-01T00:00:00.000Z: 3"
    assert "  equity-low firing: 2" in lines
    assert note.notify == ("ops",)


async def test_heartbeat_pings_only_while_healthy():
    hook = FakeHttp()
    await hook.start()
    try:
        config = HeartbeatConfig(url=hook.url("/ping/secret-token"), every=60)
        async with httpx.AsyncClient() as client:
            assert await heartbeat(client, config, healthy=True)
            assert not await heartbeat(client, config, healthy=False)
            hook.default = (500, {}, b"no")
            assert not await heartbeat(client, config, healthy=True)
    finally:
        await hook.stop()
    assert [r.path for r in hook.requests] == ["/ping/secret-token", "/ping/secret-token"]


async def test_running_app_sends_a_digest(tmp_path):
    async with Simulator(load_scenario("demo"), SimSettings(block_interval=0.1)) as sim:
        text = f"""
source: {{ws_url: "{sim.ws_url}", rest_url: "{sim.rest_url}", subaccounts: [{ACC}]}}
state_dir: {tmp_path / "state"}
http: {{enabled: false}}
jobs: {{digest: {{every: 300ms}}}}
rules: []
"""
        out = io.StringIO()
        app = App(
            parse_config(text, "rules.yaml", env={}), config_path=tmp_path / "r.yaml", out=out
        )
        task = asyncio.create_task(app.run())
        try:
            async with asyncio.timeout(10):
                while "equity 1,200.00 USDC" not in out.getvalue():  # noqa: ASYNC110 - app output
                    await asyncio.sleep(0.05)
        finally:
            app.stop()
            await asyncio.wait_for(task, 15)
    assert "Digest: 1 account(s)" in out.getvalue()
