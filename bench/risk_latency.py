"""Oracle price crossing a liquidation-distance threshold on the wire -> webhook POST latency.

The simulator serves the margin scenario's account (0.1 BTC long, USDC -5000: liquidation at
51546.39). alertbot runs as `alertbot run` does (source, engine, outbox, webhook notifier) with a
level rule `liquidation_distance_pct < 5` that resolves above 7, no grouping delay. The driver
alternates the oracle price between 53000 (2.7 % away: fires) and 58000 (11 %: resolves); every
crossing is one oracle frame and one POST. Latency is POST arrival minus the moment the frame was
handed to the simulator's sockets.

    .venv/bin/python bench/risk_latency.py [--crossings 100] [--rate 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alertbot.app import App
from alertbot.config_load import parse_config
from alertbot.sim import SimSettings, Simulator, load_scenario
from bench.latency import Hook

ACC = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art/0"


def config_text(sim: Simulator, hook_port: int, state: str) -> str:
    return f"""
version: 1
source: {{ws_url: "{sim.ws_url}", rest_url: "{sim.rest_url}", subaccounts: [{ACC}],
          markets: [BTC-USD], batched: false}}
state_dir: {state}
http: {{listen: "127.0.0.1:0"}}
notifiers:
  hook: {{type: webhook, url: "http://127.0.0.1:{hook_port}/hook"}}
rules:
  - name: liq-near
    on: risk
    when: liquidation_distance_pct < 5
    resolve_when: liquidation_distance_pct > 7
    notify: [hook]
    group_wait: 0s
    group_interval: 0s
    flapping: {{changes: 0}}    # every crossing is told (flap detection would go quiet)
"""


async def drive(sim: Simulator, hook: Hook, crossings: int, rate: float) -> list[float]:
    """Cross the threshold `crossings` times; the send time of each crossing frame."""
    sent: list[float] = []
    for i in range(crossings):
        before = len(hook.posts)
        sent.append(time.time())
        sim.set_price("BTC-USD", 53000.0 if i % 2 == 0 else 58000.0)
        async with asyncio.timeout(10):
            while len(hook.posts) == before:  # noqa: ASYNC110 - a bench, bounded by the timeout
                await asyncio.sleep(0.0005)
        await asyncio.sleep(1 / rate)
    return sent


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crossings", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0)
    args = parser.parse_args()
    hook = Hook()
    server = await hook.start()
    with tempfile.TemporaryDirectory() as state:
        async with Simulator(load_scenario("margin"), SimSettings(block_interval=0)) as sim:
            config = parse_config(config_text(sim, hook.port, state), "bench.yaml")
            app = App(config, config_path=Path(state) / "bench.yaml")
            bot = asyncio.create_task(app.run())
            await asyncio.wait_for(app.ready.wait(), 10)
            await asyncio.sleep(0.5)  # snapshots (not measured)
            hook.posts.clear()
            sent = await drive(sim, hook, args.crossings, args.rate)
            app.stop()
            await bot
    server.close()
    latencies = sorted(
        (arrived - at) * 1000 for at, (arrived, _) in zip(sent, hook.posts, strict=True)
    )
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    print(f"crossings: {len(sent)} (firing and resolved alternately), POSTs: {len(hook.posts)}")
    print(
        f"oracle frame -> webhook POST latency ms: p50 {p(0.5):.2f}  p99 {p(0.99):.2f}  "
        f"max {latencies[-1]:.2f}  mean {statistics.fmean(latencies):.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
