"""Three `alertbot run` replicas on one PostgreSQL, the simulator with 300 subaccounts and a
webhook sink. One is SIGKILLed mid-scenario: every fill is told, ownership moves within
lease_ttl + 5 s, duplicates are counted (the fills told just before the kill are not told
again: their ids are handed over with the rule state; a send in flight at the kill may be).
The database cuts every connection, then refuses them past lease_ttl: the replicas recover and
every fill is told."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from alertbot.sim import SimSettings, Simulator, load_scenario
from tests.cluster.harness import Cluster, accounts, until
from tests.pg import terminate
from tests.state.test_pg_run import connections

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


def missing(cluster: Cluster, waves: list[tuple[float, dict[str, str]]]) -> str:
    """The fills never told: wave, subaccount, shard and its owner now (logs in tmp_path)."""
    seen, owners = set(cluster.arrivals.titles()), cluster.shard_owners()
    lost = [
        f"wave {i} {key} shard {cluster.shard(key)} ({owners.get(cluster.shard(key))})"
        for i, (_, fills) in enumerate(waves)
        for key, fill in fills.items()
        if f"Fill {fill}" not in seen
    ]
    return f"{len(lost)} missing: {lost[:20]}; logs in {cluster.folder}"


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
        before = cluster.leases()
        victim_leases = {n for n, row in before.items() if row[0] == victim}
        lost = {s for s, o in owners.items() if o == victim}
        orphans = {k for k in accounts(N) if cluster.shard(k) in lost}
        killed_at = time.time()
        cluster.kill(victim)
        last_renewal = max(r[2] for n, r in cluster.leases().items() if n in victim_leases)
        moved = asyncio.create_task(cluster.taken_over(victim, ttl + 5))
        waves = []
        for _ in range(4):  # fills spread over the handover: before, during and after ttl
            waves.append((time.time(), cluster.trade_all()))
            await asyncio.sleep(ttl / 2)  # pacing the scenario, not waiting for a result
        moved_at = await moved
        # the victim's last renewal (read back: its rows now hold the new owners' times)
        fence_end = last_renewal + ttl - cluster.timing.fence_margin
        acquired = min(
            at for name, (owner, at, _, _) in cluster.leases().items() if name in victim_leases
        )
        expected = {f"Fill {f}" for _, fills in waves for f in fills.values()}
        try:
            await until(
                lambda: expected <= set(cluster.arrivals.titles()), "every fill of the waves", 90
            )
        except AssertionError as exc:  # which were lost, where: read with the replicas' logs
            raise AssertionError(f"{exc}; {missing(cluster, waves)}") from exc

        counts = cluster.arrivals.count()
        duplicated = {t: n for t, n in counts.items() if n > 1}
        phases = [first, *(fills for _, fills in waves)]
        by_fill = {f"Fill {f}": k for fills in phases for k, f in fills.items()}
        phase = {f"Fill {f}": i for i, fills in enumerate(phases) for f in fills.values()}
        assert all(by_fill[t] in orphans for t in duplicated), duplicated  # the victim's only
        # ...a send in flight at the kill (its told fill ids are handed over, so not those)
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
            f"{failover:.2f}s after; duplicates {len(duplicated)} of {len(counts)} alerts "
            f"(phases {sorted({phase[t] for t in duplicated})}); "
            f"nobody owned them for {acquired - fence_end:.2f}s (old fence end to new lease)"
        )
        assert acquired >= fence_end  # no double ownership: the old fence ended first
        assert moved_at - killed_at <= ttl + 5
        assert len(duplicated) <= len(orphans)  # at most one in-flight copy per fill
        assert max(duplicated.values(), default=1) <= 2
    finally:
        codes = await cluster.stop()
    assert [c for n, c in codes.items() if n != victim] == [0, 0], [
        cluster.log(n)[-3000:] for n in cluster.names
    ]


@pytest.mark.timeout(300)
async def test_the_database_cut_or_restarted_loses_nothing(sim, sink, tmp_path, pg_dsn):
    cluster = Cluster(sim, sink, pg_dsn, tmp_path, n=60, replicas=3)
    try:
        await started(cluster)
        arrived = cluster.arrivals.titles
        phases: list[set[str]] = []
        for _ in range(3):
            assert terminate(pg_dsn) >= 3  # pools and lease connections of every replica
            made = cluster.trade_all()
            phases.append({f"Fill {f}" for f in made.values()})
            try:
                await until(lambda p=phases[-1]: p <= set(arrived()), "the fills", 60)
            except AssertionError:  # which ones, and whose: the logs then say what happened
                missing = {
                    k: cluster.shard(k) for k, f in made.items() if f"Fill {f}" not in arrived()
                }
                raise AssertionError(f"wave {len(phases)}: not told {missing}") from None
        cut = {t for t, n in cluster.arrivals.count().items() if n > 1}

        # a restart longer than lease_ttl: every lease lapses, every replica stops alerting;
        # the fills in between are told once the database is back (the take-overs catch up)
        ttl = cluster.timing.lease_ttl
        connections(pg_dsn, allowed=False)
        try:
            made = cluster.trade_all()
            phases.append({f"Fill {f}" for f in made.values()})
            assert not cluster.reachable()
            await asyncio.sleep(ttl + 1)  # the outage lasts past every lease's expiry
        finally:
            connections(pg_dsn, allowed=True)
        await until(lambda: len(cluster.shard_owners()) == cluster.timing.shards, "shards", ttl + 5)
        everything = set().union(*phases)
        try:
            await until(lambda: everything <= set(arrived()), "the fills of the outage", 60)
        except AssertionError:  # which ones, and whose: the logs then say what happened
            missing = {k: cluster.shard(k) for k, f in made.items() if f"Fill {f}" not in arrived()}
            raise AssertionError(f"outage wave: not told {missing}") from None
        counts = cluster.arrivals.count()
        twice = {t for t, n in counts.items() if n > 1}
        by_phase = [len(twice & p) for p in phases]
        print(
            f"\ndatabase: {len(cut)} duplicate(s) after the cuts; after an outage of "
            f"{ttl + 1:g}s {len(twice)} of {len(counts)} (per wave {by_phase})"
        )
        # nothing lost (above). At least once: a fill is told again only when a replica told it
        # but could not save it (cursor, or its one-off id: a write held through a cut is
        # dropped at the fence) before its leases lapsed, so once more at most per disruption
        # it lived through: its own wave's cut, the later cuts and the outage
        for i, wave in enumerate(phases):
            lived = len(phases) - i
            assert max(counts.get(t, 0) for t in wave) <= 1 + lived, (i, by_phase)
    finally:
        codes = await cluster.stop()
    assert list(codes.values()) == [0, 0, 0], [cluster.log(n)[-3000:] for n in cluster.names]
