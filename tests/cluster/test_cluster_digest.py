"""A cluster sends one digest: the leader's, listing every replica's accounts and counting what
every replica told (two replicas in-process on one PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import psycopg
import pytest

from alertbot.sim import SimSettings, Simulator, load_scenario
from tests.apphelpers import running, until
from tests.cluster.harness import Cluster, Timing, accounts


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(load_scenario("basic"), SimSettings(block_interval=0.2)) as simulator:
        yield simulator


def digests(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT note FROM outbox WHERE rule = 'alertbot-digest'").fetchall()
    return [json.loads(note)["message"] for (note,) in rows]


def fill_notes(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM (SELECT DISTINCT fingerprint, created_at FROM outbox "
            "WHERE rule = 'fill-seen') AS notes"
        ).fetchone()
    assert row is not None
    return int(row[0])


async def test_one_digest_lists_every_replicas_accounts_and_counts(sim, sink, tmp_path, pg_dsn):
    n = 6
    cluster = Cluster(sim, sink, pg_dsn, tmp_path, n=n, replicas=2, timing=Timing(shards=4))
    for path in cluster.paths:
        path.write_text(path.read_text("utf-8") + "jobs: {digest: {every: 1d}}\n", "utf-8")
    async with running(cluster.paths[0]) as a, running(cluster.paths[1]) as b:
        apps = [a.app, b.app]
        coordinators = [app.coordinator for app in apps]
        assert None not in coordinators

        def split() -> bool:
            held = [c.active for c in coordinators if c is not None]
            return all(held) and sum(len(h) for h in held) == 4

        await until(split, "both replicas holding shards", 20)
        await until(lambda: set(cluster.subscribed().values()) == {1}, "every account once", 20)
        fills = cluster.trade_all()
        await until(
            lambda: {f"Fill {f}" for f in fills.values()} <= set(cluster.arrivals.titles()),
            "every fill at the webhook",
        )
        assert all(app.alerts[("fill-seen", "firing")] > 0 for app in apps)  # both told some
        for app in apps:
            await app._publish_accounts()
        for app in apps:
            await app._digest()
        await until(
            lambda: any(t.startswith("Digest:") for t in cluster.arrivals.titles()), "the digest"
        )
    [message] = digests(pg_dsn)  # the leader's only
    for key in accounts(n):
        assert f"{key}: equity " in message
    assert f"  fill-seen firing: {fill_notes(pg_dsn)}" in message.splitlines()
    [title] = [t for t in cluster.arrivals.titles() if t.startswith("Digest:")]
    assert title.startswith(f"Digest: {n} account(s)")


async def test_a_new_leader_does_not_send_a_second_digest_soon_after_the_last(
    sim, sink, tmp_path, pg_dsn
):
    cluster = Cluster(sim, sink, pg_dsn, tmp_path, n=2, replicas=1, timing=Timing(shards=2))
    path = cluster.paths[0]
    path.write_text(path.read_text("utf-8") + "jobs: {digest: {every: 1h}}\n", "utf-8")
    async with running(path) as run:
        coordinator = run.app.coordinator
        assert coordinator is not None
        await until(lambda: coordinator.leading(run.app.clock()), "the leader lease", 20)
        state = run.app._state
        assert state is not None
        now = run.app.clock()
        state.cursors.put("digest", {"at": now - 1200.0}, now)  # another leader's, 20 min ago
        await run.app._digest()
        assert digests(pg_dsn) == []
        state.cursors.put("digest", {"at": now - 1900.0}, now)  # over half the period: due
        await run.app._digest()
        assert len(digests(pg_dsn)) == 1
