"""One replica in-process: it takes every shard and the leader, alerts, and /healthz says it
holds its leases; with the lease store unreachable past the ttl it says they lapsed."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import psycopg
import pytest

from alertbot.cluster.leases import SCHEMA, LeaseStore
from alertbot.sim import SimSettings, Simulator, load_scenario
from tests.apphelpers import running, until
from tests.cluster.harness import Cluster, Timing, accounts
from tests.web.helpers import get


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(load_scenario("basic"), SimSettings(block_interval=0.2)) as simulator:
        yield simulator


async def test_one_replica_takes_everything_and_alerts(sim, sink, tmp_path, pg_dsn):
    cluster = Cluster(sim, sink, pg_dsn, tmp_path, n=5, replicas=1, timing=Timing(shards=4))
    path = cluster.paths[0]
    path.write_text(
        path.read_text("utf-8").replace("http: {enabled: false}", 'http: {listen: "127.0.0.1:0"}'),
        "utf-8",
    )
    async with running(path) as run:
        coordinator = run.app.coordinator
        assert coordinator is not None
        await until(lambda: len(coordinator.active) == 4, "every shard")
        await until(lambda: set(cluster.subscribed().values()) == {1}, "the subscriptions")
        fills = cluster.trade_all()
        await until(
            lambda: {f"Fill {f}" for f in fills.values()} <= set(cluster.arrivals.titles()),
            "the fills at the webhook",
        )
        assert run.app.web is not None
        reply = await get(run.app.web.port, "/healthz")
        body = json.loads(reply.body)
        assert body["cluster"]["holds_leases"] is True
        assert body["cluster"]["shards_held"] == [0, 1, 2, 3]
        assert body["cluster"]["leader"] is True
        metrics = (await get(run.app.web.port, "/metrics")).body.decode()
        assert "alertbot_cluster_shards_held 4.0" in metrics
        assert "alertbot_cluster_leader 1.0" in metrics
    assert len(accounts(5)) == 5


async def test_cut_off_from_the_leases_it_stops_alerting_then_catches_up(
    sim, sink, tmp_path, pg_dsn
):
    cluster = Cluster(sim, sink, pg_dsn, tmp_path, n=3, replicas=1, timing=Timing(shards=2))
    path = cluster.paths[0]
    path.write_text(
        path.read_text("utf-8").replace("http: {enabled: false}", 'http: {listen: "127.0.0.1:0"}'),
        "utf-8",
    )
    async with running(path) as run:
        coordinator, fence, web = run.app.coordinator, run.app.fence, run.app.web
        assert coordinator is not None
        assert fence is not None
        assert web is not None
        await until(lambda: set(cluster.subscribed().values()) == {1}, "the subscriptions")
        live = cluster.trade_all()
        await until(lambda: {f"Fill {f}" for f in live.values()} <= set(arrived(cluster)), "live")

        reachable = coordinator.store
        coordinator.store = LeaseStore("postgresql://postgres@127.0.0.1:1/none")  # a partition
        await until(lambda: not coordinator.active, "its leases lapsed at the fence", 10)
        await until(lambda: set(cluster.subscribed().values()) == {0}, "unsubscribed")
        quiet = cluster.trade_all()  # nobody may alert these now; they are not lost either
        await until(lambda: (coordinator.view(time.time()).last_round_age or 0) > 3.0, "ttl", 10)
        code, body = await health(web.port)
        assert code == 503
        assert body["cluster"]["holds_leases"] is False
        assert any("leases lapsed" in r for r in body["reasons"])
        assert not {f"Fill {f}" for f in quiet.values()} & set(arrived(cluster))

        coordinator.store = reachable  # back: it takes its leases again and catches up
        await until(lambda: len(coordinator.active) == 2, "the leases again", 10)
        await until(
            lambda: {f"Fill {f}" for f in quiet.values()} <= set(arrived(cluster)),
            "the fills of the partition, caught up",
        )
        code, body = await health(web.port)
        assert code == 200
    assert all(n == 1 for n in cluster.arrivals.count().values())


def arrived(cluster: Cluster) -> list[str]:
    return cluster.arrivals.titles()


async def health(port: int) -> tuple[int, dict]:
    reply = await get(port, "/healthz")
    return reply.status, json.loads(reply.body)


MARKET_RULE = """
  - name: price-seen
    on: market
    when: ticker == "BTC-USD" and oracle_price > 70000
    title: "BTC above 70k"
"""


async def test_market_rules_run_on_the_leader_only(sim, sink, tmp_path, pg_dsn):
    cluster = Cluster(sim, sink, pg_dsn, tmp_path, n=2, replicas=1, timing=Timing(shards=2))
    path = cluster.paths[0]
    path.write_text(path.read_text("utf-8") + MARKET_RULE, "utf-8")
    far = time.time() + 3600
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # a live leader elsewhere
        for statement in SCHEMA:
            conn.execute(statement)
        conn.execute("INSERT INTO alertbot_cluster.replicas VALUES ('elsewhere', 0, 0, %s)", (far,))
        conn.execute(
            "INSERT INTO alertbot_cluster.leases VALUES ('leader', 'elsewhere', 0, 0, %s, 1)",
            (far,),
        )
    async with running(path) as run:
        coordinator, fence = run.app.coordinator, run.app.fence
        assert coordinator is not None
        assert fence is not None
        await until(lambda: coordinator.rounds >= 2, "two rounds")
        assert not coordinator.leading(time.time())
        sim.set_price("BTC-USD", 71000)
        await until(lambda: fence.dropped > 0, "the price, seen and left to the leader")
        with psycopg.connect(pg_dsn, autocommit=True) as conn:  # the other leader is gone
            conn.execute("DELETE FROM alertbot_cluster.leases WHERE owner = 'elsewhere'")
            conn.execute("DELETE FROM alertbot_cluster.replicas WHERE replica = 'elsewhere'")
        await until(lambda: coordinator.leading(time.time()), "leading")
        sim.set_price("BTC-USD", 72000)
        await until(lambda: "BTC above 70k" in arrived(cluster), "the leader's alert")
    assert arrived(cluster).count("BTC above 70k") == 1
