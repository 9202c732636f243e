"""alertbot run end to end with a webhook: SIGKILL while delivery fails, restart, nothing lost."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from alertbot.sim import SimSettings, Simulator, load_scenario
from tests.notify.fakes import FakeHttp, Request
from tests.test_cli import ACC, TIMEOUT, lines_until, start, stop


def rules(path: Path, sim: Simulator, hook: str) -> Path:
    path.write_text(
        f"""
version: 1
source:
  ws_url: {sim.ws_url}
  rest_url: {sim.rest_url}
  subaccounts: [{ACC}]
  markets: [BTC-USD]
state_dir: {path.parent / "state"}
http: {{listen: "127.0.0.1:0"}}
notifiers:
  console: {{type: console}}
  hook: {{type: webhook, url: "{hook}"}}
delivery:
  backoff: {{initial: 50ms, max: 200ms}}
rules:
  - name: account-seen
    on: account
    when: equity > 0
    notify: [console]
    title: "Watching {{{{ address }}}}"
  - name: order-filled
    on: order.filled
    notify: [hook]
    title: "Filled {{{{ side }}}} {{{{ size }}}} {{{{ ticker }}}}"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(load_scenario("demo"), SimSettings(block_interval=0.2)) as simulator:
        yield simulator


async def test_sigkill_during_failing_delivery_then_restart_delivers_once(sim, tmp_path):
    failing = True
    seen: asyncio.Queue[Request] = asyncio.Queue()

    def respond(request: Request) -> tuple[int, dict[str, str], bytes]:
        seen.put_nowait(request)
        return (500, {}, b"down") if failing else (200, {}, b"ok")

    hook = FakeHttp(respond=respond)
    await hook.start()
    try:
        config = rules(tmp_path / "rules.yaml", sim, hook.url())
        first = await start("run", "-c", str(config))
        await lines_until(first, lambda line: line.startswith("account-seen · since"))
        sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900))
        await asyncio.wait_for(seen.get(), TIMEOUT)  # one attempt failed: it is in the outbox
        first.send_signal(signal.SIGKILL)
        await first.wait()
        failing = False
        second = await start("run", "-c", str(config))
        try:
            request = await asyncio.wait_for(_next_ok(seen), TIMEOUT)
        finally:
            assert await stop(second) == 0
        out = (await second.stdout.read()).decode() if second.stdout else ""
    finally:
        await hook.stop()
    body = request.json()
    assert body["version"] == 1
    assert [a["rule"] for a in body["alerts"]] == ["order-filled"]
    assert body["alerts"][0]["title"] == "Filled BUY 0.01 BTC-USD"
    assert "account-seen · since" not in out  # restored state: what was told is not told again


async def _next_ok(seen: asyncio.Queue[Request]) -> Request:
    """The first request after the server recovered (earlier failures may still be queued)."""
    while True:
        request = await seen.get()
        if request.method == "POST":
            return request
