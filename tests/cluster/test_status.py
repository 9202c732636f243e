"""`alertbot status` reads the cluster from the database: replicas, shards, leader, outbox."""

from __future__ import annotations

import json
import time

from alertbot.cli import main
from alertbot.cluster.leases import LeaseStore
from alertbot.commands.status import ranges

ACC = "dydx199tqg4wdlnu4qjlxchpd7seg454937hjrknju4/0"


def rules(tmp_path, dsn, cluster=True):
    path = tmp_path / "rules.yaml"
    section = "cluster: {shards: 4, lease_ttl: 10s, heartbeat: 2s, fence_margin: 2s}\n"
    path.write_text(
        f"version: 1\nsource: {{subaccounts: [{ACC}]}}\n"
        f'state: {{backend: postgresql, dsn: "{dsn}"}}\n' + (section if cluster else ""),
        "utf-8",
    )
    return path


async def seed(dsn: str) -> None:
    now = time.time()
    a, b = LeaseStore(dsn), LeaseStore(dsn)
    try:
        await a.beat("alpha", now, 10)
        await b.beat("beta", now - 30, 10)  # gone: its heartbeat expired long ago
        await a.acquire(["shard/0", "shard/1", "leader"], "alpha", now - 1, 10)
        await b.acquire(["shard/3"], "beta", now - 30, 10)  # expired: unowned now
    finally:
        await a.close()
        await b.close()


def test_ranges():
    assert ranges([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    assert ranges([]) == "-"


async def test_status_shows_replicas_shards_leader_and_outbox(tmp_path, pg_dsn, capsys):
    path = rules(tmp_path, pg_dsn)
    from alertbot.config_load import load_config
    from alertbot.state import open_state

    config = load_config(path)
    open_state(config.state_dir, config=config.state).close()  # the state schema, as run makes
    await seed(pg_dsn)
    capsys.readouterr()
    assert await _status(["status", "-c", str(path)]) == 0
    text = capsys.readouterr().out
    assert "alpha" in text
    assert "leader: alpha" in text
    assert "unowned now: 2 (2-3)" in text
    assert "outbox: 0 pending, 0 dead" in text
    assert await _status(["status", "-c", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {r["replica"]: r for r in report["replicas"]}
    assert rows["alpha"]["shards"] == [0, 1]
    assert rows["alpha"]["live"] is True
    assert rows["beta"]["live"] is False
    assert report["leader"]["replica"] == "alpha"


async def _status(argv: list[str]) -> int:
    """`main` runs its own event loop: off this test's loop, in a thread."""
    import asyncio

    return await asyncio.to_thread(main, argv)


def test_status_without_a_cluster_says_so(tmp_path, capsys):
    path = rules(tmp_path, "postgresql://postgres@127.0.0.1:5432/none", cluster=False)
    assert main(["status", "-c", str(path)]) == 2
    assert "no cluster: section" in capsys.readouterr().err


def test_bad_cluster_timing_is_refused_with_its_place(tmp_path, capsys):
    bad = "lease_ttl: 4s, heartbeat: 2s, fence_margin: 2s"
    path = tmp_path / "rules.yaml"
    path.write_text(
        f"version: 1\nsource: {{subaccounts: [{ACC}]}}\n"
        'state: {backend: postgresql, dsn: "postgresql://a@b/c"}\n'
        f"cluster: {{{bad}}}\n",
        "utf-8",
    )
    assert main(["check", "-c", str(path)]) == 1
    err = capsys.readouterr()
    assert "rules.yaml:4" in err.out + err.err
    assert "must be below lease_ttl" in err.out + err.err


def test_a_cluster_without_postgresql_is_refused_at_its_key(tmp_path, capsys):
    path = tmp_path / "rules.yaml"
    path.write_text(f"version: 1\nsource: {{subaccounts: [{ACC}]}}\ncluster: {{shards: 4}}\n")
    assert main(["check", "-c", str(path)]) == 1
    err = capsys.readouterr().err
    assert "rules.yaml:3:10: cluster: a cluster needs the shared state" in err
