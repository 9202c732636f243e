"""Leases in a real PostgreSQL, on an injected clock: take-over, fencing, rebalance, cuts."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from alertbot.cluster.assign import LEADER, lease_name
from alertbot.cluster.config import ClusterConfig
from alertbot.cluster.coordinator import Coordinator
from alertbot.cluster.leases import LeaseStore

TTL, BEAT, MARGIN = 10.0, 2.0, 2.0


class Clock:
    """Time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def config(shards: int = 12, max_moves: int = 2) -> ClusterConfig:
    return ClusterConfig(
        shards=shards, lease_ttl=TTL, heartbeat=BEAT, fence_margin=MARGIN, max_moves=max_moves
    )


class Replica:
    """A coordinator and what it told the source (gained, lost), in order."""

    def __init__(self, name: str, dsn: str, clock: Clock, cfg: ClusterConfig) -> None:
        self.changes: list[tuple[set[int], set[int]]] = []
        self.coordinator = Coordinator(
            cfg,
            LeaseStore(dsn),
            lambda g, lo: self.changes.append((g, lo)),
            clock=clock,
            replica=name,
        )

    def owned(self, now: float) -> set[int]:
        c = self.coordinator
        return {s for s in range(c.config.shards) if c.owns(s, now)}


async def rounds(replicas: list[Replica], n: int, clock: Clock, step: float = BEAT) -> None:
    for _ in range(n):
        for r in replicas:
            await r.coordinator.round()
        clock.now += step


def assert_owned_once(replicas: list[Replica], now: float) -> None:
    for shard in range(replicas[0].coordinator.config.shards):
        owners = [r.coordinator.replica for r in replicas if r.coordinator.owns(shard, now)]
        assert len(owners) <= 1, f"shard {shard} owned by {owners} at {now}"
    leaders = [r for r in replicas if r.coordinator.leading(now)]
    assert len(leaders) <= 1


async def test_a_live_lease_cannot_be_taken_an_expired_one_can(pg_dsn):
    a, b = LeaseStore(pg_dsn), LeaseStore(pg_dsn)
    try:
        assert await a.acquire(["shard/1", "shard/2"], "a", 100.0, TTL) == ["shard/1", "shard/2"]
        assert await b.acquire(["shard/1"], "b", 109.9, TTL) == []
        assert await a.renew(["shard/1"], "a", 105.0, TTL) == ["shard/1"]  # now until 115
        assert await b.acquire(["shard/1", "shard/2"], "b", 112.0, TTL) == ["shard/2"]
        assert await a.renew(["shard/1", "shard/2"], "a", 113.0, TTL) == ["shard/1"]
        epochs = {x.name: (x.owner, x.epoch) for x in await a.leases()}
        assert epochs == {"shard/1": ("a", 1), "shard/2": ("b", 2)}
        await b.release(["shard/2"], "b")
        assert await a.acquire(["shard/2"], "a", 113.0, TTL) == ["shard/2"]
    finally:
        await a.close()
        await b.close()


async def test_three_replicas_split_the_shards_and_elect_one_leader(pg_dsn):
    clock = Clock()
    replicas = [Replica(n, pg_dsn, clock, config()) for n in "abc"]
    try:
        await rounds(replicas, 8, clock)
        owned = [r.owned(clock.now) for r in replicas]
        assert sorted(len(o) for o in owned) == [4, 4, 4]
        assert set().union(*owned) == set(range(12))
        assert sum(r.coordinator.leading(clock.now) for r in replicas) == 1
        assert_owned_once(replicas, clock.now)
    finally:
        for r in replicas:
            await r.coordinator.store.close()


async def test_a_dead_replica_is_fenced_before_its_shards_are_taken(pg_dsn):
    clock = Clock()
    replicas = [Replica(n, pg_dsn, clock, config()) for n in "abc"]
    try:
        await rounds(replicas, 8, clock)
        dead = next(r for r in replicas if r.coordinator.leading(clock.now))
        lost = dead.owned(clock.now)
        survivors = [r for r in replicas if r is not dead]
        killed_at = clock.now
        # it stops renewing; the others go on, every 0.5 s, and nobody owns a shard twice
        while clock.now < killed_at + TTL + BEAT:
            dead.coordinator.sync(clock.now)  # its fence keeps running while it is cut off
            for r in survivors:
                await r.coordinator.round()
            assert_owned_once(replicas, clock.now)
            clock.now += 0.5
        assert dead.owned(clock.now) == set()
        assert dead.changes[-1][1] == lost  # the source was told to drop them
        taken = set().union(*(r.owned(clock.now) for r in survivors))
        assert taken == set(range(12))
        assert sum(r.coordinator.leading(clock.now) for r in survivors) == 1
        # the dead replica's renewal, sent before its fence, would have covered until
        # killed_at - BEAT + TTL at most; taken at or after that expiry
        leases = {x.name: x for x in await survivors[0].coordinator.store.leases()}
        for shard in lost:
            assert leases[lease_name(shard)].acquired_at >= killed_at - BEAT + TTL
        assert leases[LEADER].owner != dead.coordinator.replica
    finally:
        for r in replicas:
            await r.coordinator.store.close()


async def test_a_joining_replica_takes_its_share_a_few_shards_per_round(pg_dsn):
    clock = Clock()
    a = Replica("a", pg_dsn, clock, config(max_moves=2))
    try:
        await rounds([a], 2, clock)
        assert a.owned(clock.now) == set(range(12))
        b = Replica("b", pg_dsn, clock, config(max_moves=2))
        history = []
        for _ in range(10):
            await rounds([a, b], 1, clock)
            history.append(len(b.owned(clock.now)))
            assert_owned_once([a, b], clock.now)
        steps = [y - x for x, y in zip([0, *history], history, strict=False)]
        assert max(steps) <= 2  # bounded moves
        assert history[-1] == 6
    finally:
        await a.coordinator.store.close()
        await b.coordinator.store.close()


async def test_a_cut_connection_is_survived_and_the_leases_kept(pg_dsn):
    clock = Clock()
    a = Replica("a", pg_dsn, clock, config(shards=4))
    try:
        await rounds([a], 2, clock)
        assert a.owned(clock.now) == set(range(4))
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        await a.coordinator.round()  # fails on the dead connection
        assert not a.coordinator.store_ok
        assert a.owned(clock.now) == set(range(4))  # still within the fence
        clock.now += BEAT
        await a.coordinator.round()  # a new connection
        assert a.coordinator.store_ok
        assert a.owned(clock.now + TTL - MARGIN - 0.1) == set(range(4))
        assert [c for c in a.changes if c[1]] == []  # never dropped anything
    finally:
        await a.coordinator.store.close()


async def test_a_lease_lapsed_locally_but_still_ours_comes_back_as_a_gain(pg_dsn):
    clock = Clock()
    a = Replica("a", pg_dsn, clock, config(shards=2))
    try:
        await rounds([a], 1, clock, step=0)
        clock.now += TTL - MARGIN + 0.5  # past the fence, before the database expiry
        a.coordinator.sync(clock.now)
        assert a.changes[-1] == (set(), {0, 1})
        await a.coordinator.round()
        assert a.changes[-1] == ({0, 1}, set())  # told again: the source catches up
    finally:
        await a.coordinator.store.close()


async def test_a_lapse_between_two_syncs_is_still_told_as_a_loss_then_a_gain(pg_dsn):
    clock = Clock()
    a = Replica("a", pg_dsn, clock, config(shards=2))
    try:
        await rounds([a], 1, clock, step=0)
        # a stalled loop: the fence passes (the app drops the shards' events) and the next
        # round renews before anything called sync; the source must still be told, or the
        # cursors it saves next would cover the dropped events and nobody would tell them
        clock.now += TTL - MARGIN + 0.5
        await a.coordinator.round()
        assert a.changes[-2:] == [(set(), {0, 1}), ({0, 1}, set())]
        assert a.owned(clock.now) == {0, 1}
    finally:
        await a.coordinator.store.close()


def test_the_timing_must_leave_room_for_a_renewal():
    with pytest.raises(ValueError, match="must be below lease_ttl"):
        ClusterConfig(lease_ttl=5.0, heartbeat=3.0, fence_margin=2.0)


class Skewed:
    """A replica's own clock: the shared time plus an offset."""

    def __init__(self, base: Clock, offset: float) -> None:
        self.base, self.offset = base, offset

    def __call__(self) -> float:
        return self.base.now + self.offset


async def test_the_fence_margin_covers_a_slow_clock(pg_dsn):
    clock = Clock()
    slow = Skewed(clock, -(MARGIN - 0.5))  # behind by less than the margin
    dead = Replica("a", pg_dsn, clock, config(shards=2))
    dead.coordinator.clock = slow
    other = Replica("b", pg_dsn, clock, config(shards=2))
    try:
        await rounds([dead], 1, clock, step=0)
        assert dead.owned(slow()) == {0, 1}
        for _ in range(int((TTL + BEAT) / 0.25)):  # `a` is cut off; `b` takes over
            clock.now += 0.25
            await other.coordinator.round()
            mine = dead.owned(slow())  # each judges by its own clock
            theirs = other.owned(clock.now)
            assert not mine & theirs, f"both own {mine & theirs} at {clock.now}"
        assert other.owned(clock.now) == {0, 1}
    finally:
        await dead.coordinator.store.close()
        await other.coordinator.store.close()


async def test_a_database_that_stops_answering_is_a_lost_one():
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader, writer):  # accepts, reads, never answers
        writers.append(writer)
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cfg = ClusterConfig(shards=2, lease_ttl=2.0, heartbeat=0.5, fence_margin=1.0)
    changes: list[tuple[set[int], set[int]]] = []
    coordinator = Coordinator(
        cfg,
        LeaseStore(f"postgresql://postgres@127.0.0.1:{port}/x", connect_timeout=30),
        lambda g, lo: changes.append((g, lo)),
        replica="a",
    )
    try:
        async with asyncio.timeout(5):  # bounded by lease_ttl - fence_margin, not by the server
            await coordinator.round()
        assert coordinator.store_ok is False
    finally:
        await coordinator.store.close()
        for writer in writers:
            writer.close()
            await writer.wait_closed()
        server.close()
        await server.wait_closed()


async def test_replicas_starting_together_create_the_lease_tables_once(pg_dsn):
    stores = [LeaseStore(pg_dsn) for _ in range(8)]
    try:
        found = await asyncio.gather(*(store.replicas() for store in stores))
    finally:
        await asyncio.gather(*(store.close() for store in stores))
    assert found == [[]] * 8  # every first call succeeded: nobody raced into a duplicate
