"""Frame-to-webhook-POST latency through the whole pipeline at a steady alert rate.

The simulator publishes trades (one v4_trades frame each, stamped with its send time); alertbot
runs as `alertbot run` does (source, engine, plugins, outbox, webhook notifier) with a one-off
rule on every trade and no grouping delay; a loopback HTTP server stamps each POST. Latency is
POST arrival minus the trade's createdAt, per alert.

    .venv/bin/python bench/latency.py [--rate 100] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import orjson

from alertbot.app import App
from alertbot.config_load import parse_config
from alertbot.sim import SimSettings, Simulator, load_scenario
from alertbot.web.snapshot import LatencyRecorder

ACC = "dydx199tqg4wdlnu4qjlxchpd7seg454937hjrknju4/0"


class Hook:
    """A minimal HTTP/1.1 server that records (arrival time, body) per POST."""

    def __init__(self) -> None:
        self.posts: list[tuple[float, bytes]] = []
        self.port = 0
        self.alerts = 0
        self.expected = -1
        self.all_in = asyncio.Event()

    async def start(self) -> asyncio.Server:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                body = await reader.readexactly(length)
                self.posts.append((time.time(), body))
                self.alerts += len(orjson.loads(body)["alerts"])
                if self.alerts == self.expected:
                    self.all_in.set()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


class Samples(LatencyRecorder):
    """The app's frame-to-decision recorder, keeping every sample (for percentiles)."""

    def __init__(self) -> None:
        super().__init__()
        self.samples: list[float] = []

    def observe(self, seconds: float) -> None:
        """Record one decision's latency (frame received -> engine returned the alert)."""
        super().observe(seconds)
        self.samples.append(seconds * 1000)


def percentiles(values: list[float]) -> str:
    """p50, p99, max and mean of milliseconds."""
    values = sorted(values)
    p = lambda q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
    return (
        f"p50 {p(0.5):.2f}  p99 {p(0.99):.2f}  max {values[-1]:.2f}  "
        f"mean {statistics.fmean(values):.2f}"
    )


def config_text(sim: Simulator, hook_port: int, state: str) -> str:
    return f"""
version: 1
source: {{ws_url: "{sim.ws_url}", rest_url: "{sim.rest_url}", subaccounts: [{ACC}],
          markets: [BTC-USD], market_channels: [trades], batched: false}}
state_dir: {state}
http: {{listen: "127.0.0.1:0"}}
notifiers:
  hook: {{type: webhook, url: "http://127.0.0.1:{hook_port}/hook"}}
rules:
  - name: every-trade
    on: trade
    when: size > 0
    notify: [hook]
    group_wait: 0s
    group_interval: 0s
"""


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


async def drive(sim: Simulator, rate: float, seconds: float) -> int:
    """Fill one order per tick at `rate` per second (each fill is one trade frame)."""
    count = int(rate * seconds)
    start = time.perf_counter()
    for i in range(count):
        sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.001, 60000.0))
        delay = start + (i + 1) / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    return count


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    hook = Hook()
    server = await hook.start()
    settings = SimSettings(block_interval=0)
    with tempfile.TemporaryDirectory() as state:
        async with Simulator(load_scenario("basic"), settings) as sim:
            config = parse_config(config_text(sim, hook.port, state), "bench.yaml")
            app = App(config, config_path=Path(state) / "bench.yaml")
            decisions = app.latency = Samples()
            bot = asyncio.create_task(app.run())
            await asyncio.sleep(1.0)  # connect and take the snapshots (not measured)
            hook.posts.clear()
            decisions.samples.clear()
            hook.alerts, hook.expected = 0, int(args.rate * args.seconds)
            sent = await drive(sim, args.rate, args.seconds)
            await asyncio.wait_for(hook.all_in.wait(), 30)
            app.stop()
            await bot
    server.close()
    latencies = [
        (arrived - epoch(alert["event"]["created_at"])) * 1000
        for arrived, body in hook.posts
        for alert in orjson.loads(body)["alerts"]
    ]
    print(
        f"alerts: {sent} trades at {args.rate:.0f}/s for {args.seconds:.0f}s -> "
        f"{len(latencies)} alerts in {len(hook.posts)} POSTs"
    )
    print(f"frame -> engine decision latency ms: {percentiles(decisions.samples)}")
    print(f"frame -> webhook POST latency ms:    {percentiles(latencies)}")


if __name__ == "__main__":
    asyncio.run(main())
