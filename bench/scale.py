"""Scale: RSS and start-up with 1, 1,000 and 10,000 watched subaccounts against the simulator.

The simulator runs in its own process (pinned to the other core) with one funded subaccount per
watched one; alertbot's IndexerSource (no state, so no catch-up round) starts in this process.
Start-up is the time from `async with source` until every subscription of every connection is
acknowledged (its snapshot arrived); RSS is this process's peak resident set (ru_maxrss), after
the source ran, for one size per process (sizes are measured in fresh processes).

    .venv/bin/python bench/scale.py [--sizes 1,1000,10000] [--timeout 300]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alertbot.sim import SimSettings, Simulator, load_scenario
from alertbot.source.client import IndexerSource
from alertbot.source.config import SourceConfig
from alertbot.source.connstate import ACTIVE

ADDRESSES = (
    "dydx199tqg4wdlnu4qjlxchpd7seg454937hjrknju4",
    "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art",
)


def subaccounts(n: int) -> list[str]:
    """`n` subaccount ids, numbered upwards under two real addresses."""
    return [f"{ADDRESSES[i % 2]}/{i // 2}" for i in range(n)]


def simulate(n: int, urls: Any) -> None:
    """The simulator with `n` funded subaccounts, until terminated."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})

    async def run() -> None:
        async with Simulator(load_scenario("basic"), SimSettings(block_interval=1.0)) as sim:
            for key in subaccounts(n):
                sim.exchange.add_account(key, 1000.0)
            urls.put((sim.ws_url, sim.rest_url))
            await asyncio.Future()

    asyncio.run(run())


def subscribed(source: IndexerSource) -> tuple[int, int]:
    """(acknowledged, wanted) subscriptions over every connection."""
    subs = [s for c in source.feed.conns.values() for s in c.subs.values()]
    return sum(1 for s in subs if s.status == ACTIVE), len(subs)


async def start(n: int, ws_url: str, rest_url: str, limit: float) -> tuple[float, int, int]:
    """Seconds until every subscription is acknowledged, connections, subscriptions."""
    config = SourceConfig.model_validate(
        {
            "ws_url": ws_url,
            "rest_url": rest_url,
            "subaccounts": subaccounts(n),
            "markets": ["BTC-USD"],
            "reconcile_interval": 0,
            "polling": {"enabled": False},
        }
    )
    source = IndexerSource(config, env={})
    started = time.perf_counter()
    async with source:
        drain = asyncio.create_task(_drain(source))
        try:
            while True:
                done, wanted = subscribed(source)
                if wanted and done == wanted:
                    return time.perf_counter() - started, len(source.feed.conns), wanted
                if time.perf_counter() - started > limit:
                    raise TimeoutError(f"{done} of {wanted} subscribed after {limit:.0f}s")
                await asyncio.sleep(0.05)  # a poll of the bench's own clock, not a synchronisation
        finally:
            drain.cancel()


async def _drain(source: IndexerSource) -> None:
    async for _ in source.batches():
        pass


def one(n: int, timeout: float) -> None:
    """Measure one size in this process and print one line."""
    logging.disable(logging.WARNING)
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    urls: Any = multiprocessing.Queue()
    sim = multiprocessing.Process(target=simulate, args=(n, urls), daemon=True)
    sim.start()
    try:
        ws_url, rest_url = urls.get(timeout=600)
        seconds, conns, subs = asyncio.run(start(n, ws_url, rest_url, timeout))
    finally:
        sim.terminate()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{n:>11,} | {conns:>11} | {subs:>13,} | {seconds:>9.2f} | {rss:>11.1f}", flush=True)


def main() -> None:
    """One fresh process per size (RSS is a peak), printed as a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,1000,10000")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        one(args.one, args.timeout)
        return
    print(
        f"{'subaccounts':>11} | {'connections':>11} | {'subscriptions':>13} | {'start s':>9} | "
        f"{'peak RSS MB':>11}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--timeout", str(args.timeout)],
            check=False,
        )


if __name__ == "__main__":
    main()
