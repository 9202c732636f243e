"""Three `alertbot run` replicas on one PostgreSQL, the simulator with 300 subaccounts and a
webhook sink: one is SIGKILLed mid-scenario, then the database cuts every connection. Every
fill is told; ownership moves within lease_ttl + 5 s; duplicates are counted and come only from
the killed replica's accounts (what it had in flight)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from alertbot.sim import SimSettings, Simulator, load_scenario
from tests.cluster.harness import Cluster, accounts, until
from tests.pg import terminate

N = 300
START = 60.0  # three processes subscribing 300 subaccounts on 2 busy cores


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(load_scenario("basic"), SimSettings(block_interval=0.5)) as simulator:
        yield simulator


async def started(cluster: Cluster) -> None:
    for name in cluster.names:
        await cluster.start(name)
    shards = cluster.timing.shards
    await until(lambda: len(cluster.shard_owners()) == shards, "every shard owned", START)
    await until(
        lambda: set(cluster.subscribed().values()) == {1}, "each subaccount subscribed once", START
    )


@pytest.mark.timeout(300)
async def test_a_replica_killed_mid_scenario_loses_no_alert(sim, sink, tmp_path, pg_dsn):
    cluster = Cluster(sim, sink, pg_dsn, tmp_path, n=N, replicas=3)
    ttl = cluster.timing.lease_ttl
    try:
        await started(cluster)
        owners = cluster.shard_owners()
        assert len(set(owners.values())) == 3  # the work is shared
        first = cluster.trade_all()
        await until(
            lambda: {f"Fill {f}" for f in first.values()} <= set(cluster.arrivals.titles()),
            "the first 300 fills",
            START,
        )

        victim = cluster.leader()
        assert victim is not None
        lost = {s for s, o in owners.items() if o == victim}
        orphans = {k for k in accounts(N) if cluster.shard(k) in lost}
        killed_at = time.time()
        cluster.kill(victim)
        waves = []
        for _ in range(4):  # fills spread over the handover: before, during and after ttl
            waves.append((time.time(), cluster.trade_all()))
            await asyncio.sleep(ttl / 2)  # pacing the scenario, not waiting for a result
        moved_at = await until(
            lambda: all(o not in (None, victim) for o in cluster.shard_owners().values())
            and len(cluster.shard_owners()) == cluster.timing.shards
            and cluster.leader() not in (None, victim),
            "the victim's shards and the leader owned by survivors",
            ttl + 5,
        )
        expected = {f"Fill {f}" for _, fills in waves for f in fills.values()}
        await until(
            lambda: expected <= set(cluster.arrivals.titles()), "every fill of the waves", 90
        )

        counts = cluster.arrivals.count()
        duplicated = {t: n for t, n in counts.items() if n > 1}
        by_fill = {f"Fill {f}": k for _, fills in [(0, first), *waves] for k, f in fills.items()}
        assert all(by_fill[t] in orphans for t in duplicated), duplicated  # in flight only
        # the first alert of a victim's account after the kill, told by a new owner
        after = [
            at
            for at, title in cluster.arrivals.seen
            if at > killed_at and by_fill.get(title) in orphans and title in expected
        ]
        failover = min(after) - killed_at
        print(  # the report the issue asks for (pytest -s shows it)
            f"\nhandover: {len(lost)} shard(s), {len(orphans)} subaccounts; owned again "
            f"{moved_at - killed_at:.2f}s after SIGKILL (ttl {ttl:g}s); first alert of theirs "
            f"{failover:.2f}s after; duplicates {len(duplicated)} of {len(counts)} alerts"
        )
        assert moved_at - killed_at <= ttl + 5
        assert len(duplicated) <= len(orphans)  # at most one in-flight copy per fill
        assert max(duplicated.values(), default=1) <= 2
    finally:
        codes = await cluster.stop()
    assert [c for n, c in codes.items() if n != victim] == [0, 0], [
        cluster.log(n)[-3000:] for n in cluster.names
    ]


@pytest.mark.timeout(300)
async def test_the_database_cutting_every_connection_loses_nothing(sim, sink, tmp_path, pg_dsn):
    cluster = Cluster(sim, sink, pg_dsn, tmp_path, n=60, replicas=3)
    try:
        await started(cluster)
        expected: set[str] = set()
        for _ in range(3):
            assert terminate(pg_dsn) >= 3  # pools and lease connections of every replica
            expected |= {f"Fill {f}" for f in cluster.trade_all().values()}
            await until(lambda: expected <= set(cluster.arrivals.titles()), "the fills", 60)
        await until(
            lambda: len(cluster.shard_owners()) == cluster.timing.shards,
            "every shard owned again",
            cluster.timing.lease_ttl + 5,
        )
        counts = cluster.arrivals.count()
        assert {t: n for t, n in counts.items() if n > 1} == {}
    finally:
        codes = await cluster.stop()
    assert list(codes.values()) == [0, 0, 0], [cluster.log(n)[-3000:] for n in cluster.names]
