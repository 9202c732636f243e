"""Catch-up time after a 10-minute downtime, for 1 and for 1,000 subaccounts (issue 9).

Against the bundled simulator on loopback: a first start takes the baseline and saves the
cursors; while no source runs, every subaccount gets FILLS order fills and a deposit, stamped
over the last 10 minutes; the second start is timed from `async with source` to the start's
`source.catchup` summary (every catch-up event emitted before it).

    .venv/bin/python bench/catchup.py [--runs 3] [--sizes 1,1000] [--fills 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from typing import Any

from alertbot.core.model import Event
from alertbot.sim import SimSettings, Simulator, load_scenario
from alertbot.source.client import IndexerSource
from alertbot.source.config import SourceConfig
from alertbot.state import open_state

ADDRESS = "dydx199tqg4wdlnu4qjlxchpd7seg454937hjrknju4"
DOWNTIME = 600.0


def config_for(sim: Simulator, n: int) -> SourceConfig:
    return SourceConfig.model_validate(
        {
            "ws_url": sim.ws_url,
            "rest_url": sim.rest_url,
            "subaccounts": [f"{ADDRESS}/{i}" for i in range(n)],
            "reconcile_interval": 0,
            "polling": {"enabled": False},
        }
    )


async def until_summary(source: IndexerSource) -> tuple[float, list[Event]]:
    """Consume until the start's source.catchup; (seconds since the call, events before it)."""
    seen: list[Event] = []
    async for event in source:
        seen.append(event)
        if event.kind == "source.catchup" and event.data["origin"] == "start":
            return time.perf_counter(), seen
    raise AssertionError("the source ended")


async def one_run(n: int, fills: int) -> tuple[float, int]:
    settings = SimSettings(block_interval=0)
    async with Simulator(load_scenario("basic"), settings) as sim:
        for i in range(n):
            sim.exchange.add_account(f"{ADDRESS}/{i}", 1000.0)
        config = config_for(sim, n)
        with tempfile.TemporaryDirectory() as state_dir:
            store = open_state(state_dir)
            try:
                async with IndexerSource(config, env={}, state=store) as source:
                    await until_summary(source)  # the baseline (first start)
                trade_while_down(sim, n, fills)
                started = time.perf_counter()
                async with IndexerSource(config, env={}, state=store) as source:
                    done, events = await until_summary(source)
            finally:
                store.close()
    caught = sum(1 for e in events if e.data.get("catchup") is True)
    return done - started, caught


def trade_while_down(sim: Simulator, n: int, fills: int) -> None:
    """`fills` filled orders and one deposit per subaccount, spread over the downtime."""
    steps = fills + 1
    for step in range(steps):
        sim.set_clock_offset(-DOWNTIME + step * DOWNTIME / steps)
        sim.new_block()
        for i in range(n):
            key = f"{ADDRESS}/{i}"
            if step < fills:
                sim.fill_order(sim.place_order(key, "ETH-USD", "BUY", 0.01, 3000))
            else:
                sim.transfer(key, 10, type="DEPOSIT")
    sim.set_clock_offset(0)
    sim.new_block()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1,1000")
    parser.add_argument("--fills", type=int, default=3)
    args = parser.parse_args(argv)
    for n in (int(s) for s in args.sizes.split(",")):
        results: list[Any] = [asyncio.run(one_run(n, args.fills)) for _ in range(args.runs)]
        seconds = [r[0] for r in results]
        print(
            f"{n:>5} subaccount(s), {args.fills} fills + 1 deposit each over 10 min: "
            f"catch-up median {statistics.median(seconds):.3f} s "
            f"(runs {', '.join(f'{s:.3f}' for s in seconds)}), "
            f"{results[0][1]} catch-up events"
        )


if __name__ == "__main__":
    main()
