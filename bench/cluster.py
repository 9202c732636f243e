"""Replicas on one PostgreSQL: throughput with 1 and 3, and failover after a SIGKILL (issue 14).

Real `alertbot run` processes (tests/cluster/harness.py), the bundled simulator in this process,
a loopback webhook sink, a throwaway database on the machine's PostgreSQL. Per configuration:

* watched: subaccounts subscribed once, summed over the replicas (the simulator counts them);
* events/s: events all replicas' engines took (their /metrics), over the burst, which runs from
  the first order placed to the last fill at the webhook;
* deliveries/s: fills at the webhook over the same burst (each fill is one alert, sent by
  whichever replica claimed its outbox row);
* failover (3 replicas): SIGKILL the leader, then one fill a tick on one of its subaccounts
  until the webhook gets one: kill to that first alert from a new owner.

    .venv/bin/python bench/cluster.py [--subaccounts 300] [--rounds 5] [--runs 3] [--ttl 3]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alertbot.sim import SimSettings, Simulator, load_scenario
from tests import pg
from tests.cluster.harness import Cluster, Timing, accounts, until
from tests.notify.fakes import FakeHttp
from tests.web.helpers import get

EVENTS = re.compile(r'^alertbot_events_total\{kind="[^"]+"\} ([0-9.e+]+)$', re.M)


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


async def events_taken(cluster: Cluster, names: list[str]) -> float:
    total = 0.0
    assert cluster.ports is not None
    for name in names:
        reply = await get(cluster.ports[cluster.names.index(name)], "/metrics")
        total += sum(float(v) for v in EVENTS.findall(reply.body.decode()))
    return total


async def one_run(replicas: int, n: int, rounds: int, ttl: float, failover: bool) -> dict[str, Any]:
    timing = Timing(lease_ttl=ttl, heartbeat=ttl / 6, fence_margin=ttl / 3)
    settings = SimSettings(block_interval=0.5)
    async with Simulator(load_scenario("basic"), settings) as sim:
        sink = FakeHttp()
        await sink.start()
        with pg.database() as dsn, tempfile.TemporaryDirectory() as folder:
            cluster = Cluster(
                sim, sink, dsn, Path(folder), n=n, replicas=replicas, timing=timing,
                ports=free_ports(replicas),
            )  # fmt: skip
            try:
                for name in cluster.names:
                    await cluster.start(name)
                await until(lambda: set(cluster.subscribed().values()) == {1}, "subscribed", 120)
                warm = cluster.trade_all()  # every replica past its take-over rounds
                titles = cluster.arrivals.titles
                await until(lambda: {f"Fill {f}" for f in warm.values()} <= set(titles()), "", 120)
                watched = sum(cluster.subscribed().values())
                before = await events_taken(cluster, cluster.names)
                start, sent = time.time(), len(cluster.arrivals.seen)
                expected: set[str] = set()
                for _ in range(rounds):
                    expected |= {f"Fill {f}" for f in cluster.trade_all().values()}
                    await asyncio.sleep(0)
                done = await until(lambda: expected <= set(titles()), "the burst", 300)
                events = await events_taken(cluster, cluster.names) - before
                delivered = len(cluster.arrivals.seen) - sent
                result: dict[str, Any] = {
                    "watched": watched,
                    "events_per_s": events / (done - start),
                    "deliveries_per_s": delivered / (done - start),
                    "burst_s": done - start,
                }
                if failover:
                    result["failover_s"] = await kill_and_time(cluster)
            finally:
                await cluster.stop()
        await sink.stop()
    return result


async def kill_and_time(cluster: Cluster) -> float:
    """SIGKILL the leader; one fill per 0.1 s on its subaccounts until one is told."""
    victim = cluster.leader()
    assert victim is not None
    owned = {s for s, o in cluster.shard_owners().items() if o == victim}
    theirs = [k for k in accounts(cluster.n) if cluster.shard(k) in owned]
    killed = time.time()
    cluster.kill(victim)
    placed: set[str] = set()
    index = 0
    while not placed & set(cluster.arrivals.titles()):
        sim, key = cluster.sim, theirs[index % len(theirs)]
        placed.add(f"Fill {sim.fill_order(sim.place_order(key, 'ETH-USD', 'BUY', 0.01, 3000))}")
        index += 1
        await asyncio.sleep(0.1)
        if time.time() - killed > 60:
            raise AssertionError("no alert from a new owner within 60 s")
    first = min(at for at, title in cluster.arrivals.seen if title in placed)
    return first - killed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subaccounts", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5, help="fills per subaccount in the burst")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ttl", type=float, default=3.0, help="lease_ttl in seconds")
    args = parser.parse_args(argv)
    print(
        f"{args.subaccounts} subaccounts, {args.rounds} fills each per burst, lease_ttl "
        f"{args.ttl:g}s, {args.runs} run(s) per line; medians (each run in brackets)"
    )
    for replicas in (1, 3):
        runs = [
            asyncio.run(one_run(replicas, args.subaccounts, args.rounds, args.ttl, replicas > 1))
            for _ in range(args.runs)
        ]
        line = f"{replicas} replica(s): watched {runs[0]['watched']}"
        for key, unit in (("events_per_s", "events/s"), ("deliveries_per_s", "deliveries/s"),
                          ("failover_s", "s failover")):  # fmt: skip
            if key in runs[0]:
                values = [r[key] for r in runs]
                each = ", ".join(f"{v:.1f}" for v in values)
                line += f"; {statistics.median(values):.1f} {unit} [{each}]"
        print(line, flush=True)


if __name__ == "__main__":
    main()
