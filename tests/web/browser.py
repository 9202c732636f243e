"""Debian's chromium driven by Playwright, and an App with the dashboard on, for browser tests."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alertbot.app import App
from alertbot.config_load import load_config
from alertbot.sim import Simulator
from tests.test_cli import ACC

CHROMIUM = "/usr/bin/chromium"  # `make chromium` installs it (never `playwright install`)
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TOKEN = "test-token-4f1d9c0b7a2e"  # what ${ALERTBOT_TOKEN} resolves to in these tests
ENV = {"ALERTBOT_TOKEN": TOKEN}
TIMEOUT = 15.0

CONFIG = """
version: 1
source:
  ws_url: {ws}
  rest_url: {rest}
  subaccounts: [{acc}]
  markets: [BTC-USD, ETH-USD]
  reconnect: {{initial: 50ms, max: 200ms}}
  reconcile_delay: 100ms
state_dir: {state}
http:
  listen: "127.0.0.1:{port}"
  dashboard: true
  token: ${{ALERTBOT_TOKEN}}
notifiers:
  hook: {{type: webhook, url: "{hook}"}}
delivery:
  backoff: {{initial: 50ms, max: 50ms}}
  drain_timeout: 500ms
{delivery}rules:
{rules}
"""


def free_port() -> int:
    """A loopback port free now (a restarted bot must come back where the page looks)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write(path: Path, sim: Simulator, hook: str, rules: str, port: int, delivery: str = "") -> Path:
    """A rules file with the dashboard on `port`, the token from the environment."""
    text = CONFIG.format(
        ws=sim.ws_url, rest=sim.rest_url, acc=ACC, state=path.parent / "state",
        port=port, hook=hook, rules=rules, delivery=delivery,
    )  # fmt: skip
    path.write_text(text, encoding="utf-8")
    return path


@asynccontextmanager
async def bot(path: Path) -> AsyncIterator[App]:
    """`alertbot run` in this process (the same App the command runs), stopped on exit."""
    app = App(load_config(path, env=ENV), config_path=path, out=io.StringIO(), env=ENV)
    task = asyncio.create_task(app.run())
    try:
        async with asyncio.timeout(TIMEOUT):
            ready = asyncio.create_task(app.ready.wait())
            await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            if task.done():
                task.result()
        yield app
    finally:
        app.stop()
        await asyncio.wait({task}, timeout=TIMEOUT)
        if not task.done():
            task.cancel()
    task.result()
