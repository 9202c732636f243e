"""Rule state moves with the accounts: two in-process replicas (App) on one PostgreSQL.

A pending `for` fires on the new owner at its original time, a firing alert is not told again
and its resolve is told once, and an `absent` timer of an account that moved away never fires
on the old owner. Fencing is real: the old owner's lease store is cut (or it gives the shard
back when a replica joins), the new owner waits for the lease as it would after a SIGKILL.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from alertbot.app import App
from alertbot.cluster.leases import LeaseStore
from alertbot.sim import SimSettings, Simulator, load_scenario
from alertbot.state.api import RuleStateChange, StateChanges
from tests.apphelpers import running, until
from tests.cluster.harness import Cluster, Timing, accounts
from tests.notify.fakes import Reply, Request

FOR = 6.0  # longer than a take-over (lease_ttl 3s + a heartbeat + the catch-up)
LEVEL_RULES = f"""
  - name: slow
    on: account
    when: usdc < 500
    for: {FOR:g}s
    title: "slow {{{{ subaccount }}}}"
  - name: fast
    on: account
    when: usdc < 500
    title: "fast {{{{ subaccount }}}}"
  - name: filled
    on: fill
    title: "filled {{{{ id }}}}"
"""
ABSENT = 5.0
ABSENT_RULE = f"""
  - name: quiet
    on: fill
    absent: {ABSENT:g}s
    title: "quiet {{{{ subaccount }}}}"
"""


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(load_scenario("basic"), SimSettings(block_interval=0.2)) as simulator:
        yield simulator


class Told:
    """(time, status, title) of every alert the webhook got, grouped ones by member."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str, str]] = []

    def respond(self, request: Request) -> Reply:
        if request.method == "POST":
            for alert in request.json()["alerts"]:
                for m in alert["members"] or [alert]:
                    self.seen.append((time.time(), m["status"], m["title"]))
        return (200, {}, b"ok")

    def count(self, status: str, title: str) -> int:
        return sum(1 for _, s, t in self.seen if (s, t) == (status, title))

    def first(self, status: str, title: str) -> float:
        return min(at for at, s, t in self.seen if (s, t) == (status, title))


def cluster_of(sim, sink, pg_dsn, tmp_path, rules: str) -> tuple[Cluster, Told]:
    cluster = Cluster(sim, sink, pg_dsn, tmp_path, n=6, replicas=2, timing=Timing(shards=2))
    for path in cluster.paths:
        path.write_text(path.read_text("utf-8") + rules, "utf-8")
    told = Told()
    sink.respond = told.respond
    return cluster, told


def held(app: App) -> set[int]:
    assert app.coordinator is not None
    return set(app.coordinator.active)


async def balanced(cluster: Cluster, a: App, b: App) -> None:
    """B joined: each holds one shard, and every subaccount is subscribed once."""
    await until(lambda: len(held(a)) == 1 and len(held(b)) == 1, "one shard each", 20)
    await until(lambda: set(cluster.subscribed().values()) == {1}, "subscribed once", 20)


def assert_fenced_writes(app: App, rule: str) -> None:
    """A change drained before the fence and written after it (a held write) is dropped."""
    assert app._state is not None
    assert app._delivery is not None
    saved = [r for r in app._state.rules.load() if r.rule == rule]
    assert len(saved) == 1
    row = saved[0]
    scope = app.engine.scopes[rule](app.engine.by_name[rule].decode_key(row.key))
    late = RuleStateChange(row.rule, row.digest, row.key, {**value_of(row), "late": 1}, scope)
    app._delivery.submit_many((), changes=StateChanges((late,)))
    assert [r.value for r in app._state.rules.load() if r.rule == rule] == [row.value]


def assert_told_occurrences_recorded(app: App, account: str) -> None:
    """Past the fence a told fill's id is still recorded where none is, never overwriting."""
    assert app._state is not None
    assert app._delivery is not None
    rt, digest = app.engine.by_name["filled"], app.engine.digests["filled"]
    address, _, sub = account.rpartition("/")

    def row(fill: str, value: dict[str, Any]) -> RuleStateChange:
        key = ("fill", (address, int(sub), fill), (fill,))
        scope = app.engine.scopes["filled"](key)
        return RuleStateChange("filled", digest, rt.encode_key(key), value, scope)

    def saved() -> dict[str, Any]:
        assert app._state is not None
        return {r.key: r.value for r in app._state.rules.load() if r.rule == "filled"}

    theirs = row("f-theirs", {"seen": 2.0})
    app._state.rules.apply([theirs], 2.0)  # the next owner's row of the same occurrence
    told, untold = row("f-told", {"seen": 1.0}), row("f-untold", {"seen": 1.0, "untold": {}})
    late = [told, untold, row("f-theirs", {"seen": 1.0})]
    app._delivery.submit_many((), changes=StateChanges(tuple(late)))
    assert saved() == {told.key: {"seen": 1.0}, theirs.key: {"seen": 2.0}}


def value_of(row: RuleStateChange) -> dict[str, Any]:
    assert row.value is not None
    return row.value


def number(key: str) -> str:
    return key.rpartition("/")[2]


async def test_for_timer_and_firing_alert_move_to_the_new_owner(sim, sink, tmp_path, pg_dsn):
    cluster, told = cluster_of(sim, sink, pg_dsn, tmp_path, LEVEL_RULES)
    async with running(cluster.paths[0]) as run_a, running(cluster.paths[1]) as run_b:
        a, b = run_a.app, run_b.app
        await balanced(cluster, a, b)
        key = next(k for k in accounts(6)[1:] if cluster.shard(k) in held(a))  # 1000 USDC
        sub = number(key)
        sim.transfer(key, 600, type="WITHDRAWAL")  # usdc 400: fast fires, slow is pending
        await until(lambda: told.count("firing", f"fast {sub}") == 1, "fast told by A", 10)
        pending = [v for v in a.engine.active_alerts() if v.rule == "slow"]
        assert [v.state for v in pending] == ["pending"]
        since = pending[0].since

        assert a.coordinator is not None
        reachable = a.coordinator.store
        a.coordinator.store = LeaseStore("postgresql://postgres@127.0.0.1:1/none")  # cut off
        await reachable.close()
        await until(lambda: not held(a), "A fenced", 10)
        assert a.engine.active_alerts() == []  # forgotten, not resolved: nothing told
        assert_fenced_writes(a, "slow")
        assert_told_occurrences_recorded(a, key)
        await until(lambda: len(held(b)) == 2, "B took the shard over", 15)
        await until(lambda: told.count("firing", f"slow {sub}") == 1, "slow told", FOR + 10)
        fired = told.first("firing", f"slow {sub}")
        # the original `for` (a restarted timer would fire after the take-over + FOR)
        assert FOR <= fired - since < FOR + 2.5, fired - since
        assert a.engine.by_name["slow"].stats.notifications == 0

        sim.transfer(key, 600, type="DEPOSIT")  # back to 1000: both resolve on B
        for rule in ("fast", "slow"):
            await until(lambda r=rule: told.count("resolved", f"{r} {sub}") == 1, "resolves", 10)
        assert b.engine.by_name["fast"].stats.notifications == 1  # the resolve only
    for rule in ("fast", "slow"):
        assert told.count("firing", f"{rule} {sub}") == 1
        assert told.count("resolved", f"{rule} {sub}") == 1


async def test_absent_timer_of_a_moved_account_fires_on_the_new_owner_only(
    sim, sink, tmp_path, pg_dsn
):
    cluster, told = cluster_of(sim, sink, pg_dsn, tmp_path, ABSENT_RULE)
    async with running(cluster.paths[0]) as run_a:
        a = run_a.app
        await until(lambda: len(held(a)) == 2, "A holds every shard", 20)
        await until(lambda: set(cluster.subscribed().values()) == {1}, "subscribed", 20)
        fills = cluster.trade_all()  # a sign of life on every subaccount: the timers start
        rule = a.engine.by_name["quiet"]
        await until(lambda: len(rule.state_keys()) == len(fills), "every timer started", 10)
        async with running(cluster.paths[1]) as run_b:  # B joins: one shard moves to it
            b = run_b.app
            await balanced(cluster, a, b)
            moved = {number(k) for k in fills if cluster.shard(k) in held(b)}
            kept = {number(k) for k in fills} - moved
            assert moved
            assert kept
            await until(
                lambda: all(told.count("firing", f"quiet {n}") for n in moved | kept),
                "every account found quiet",
                ABSENT + 10,
            )
            assert a.engine.by_name["quiet"].stats.notifications == len(kept)
            assert b.engine.by_name["quiet"].stats.notifications == len(moved)
    assert all(told.count("firing", f"quiet {n}") == 1 for n in moved | kept), told.seen


FILLED_RULE = """
  - name: filled
    on: fill
    title: "filled {{ id }}"
"""


async def test_a_regained_shard_loads_the_ids_this_replica_still_held(sim, sink, tmp_path, pg_dsn):
    """A fill told from memory while its rows waited for the database: a regain of the shard
    writes them before its load, so the catch-up does not tell that fill again."""
    cluster, _ = cluster_of(sim, sink, pg_dsn, tmp_path, FILLED_RULE)
    async with running(cluster.paths[0]) as run_a:
        a = run_a.app
        assert a._delivery is not None
        await until(lambda: len(held(a)) == 2, "A holds every shard", 20)
        key = accounts(6)[0]
        shard = cluster.shard(key)
        address, _, sub = key.rpartition("/")
        rt, digest = a.engine.by_name["filled"], a.engine.digests["filled"]
        identity = ("fill", (address, int(sub), "f-held"), ("f-held",))
        row = RuleStateChange(
            "filled",
            digest,
            rt.encode_key(identity),
            {"seen": 1.0},
            key,  # told, not yet written
        )
        a._shards_changed(set(), {shard})  # lost in a cut (the fence), its rows still held:
        a._delivery._spill_changes = StateChanges((row,))  # what a failed write leaves
        a._shards_changed({shard}, set())  # regained
        await until(lambda: identity in rt.seen, "the held id loaded with the shard", 10)
        assert a._delivery._spill_changes == StateChanges()


MARKET_RULE = """
  - name: btc-high
    on: market
    when: ticker == "BTC-USD" and oracle_price > 70000
    for: 1h
"""


def pending_since(app: App, rule: str) -> list[float]:
    return [v.since for v in app.engine.active_alerts() if v.rule == rule]


async def test_market_rule_state_moves_with_the_leader(sim, sink, tmp_path, pg_dsn):
    cluster, _ = cluster_of(sim, sink, pg_dsn, tmp_path, MARKET_RULE)
    async with running(cluster.paths[0]) as run_a:
        a = run_a.app
        assert a.coordinator is not None
        coordinator = a.coordinator
        await until(lambda: coordinator.leading(time.time()), "A leads", 20)
        async with running(cluster.paths[1]) as run_b:
            b = run_b.app
            await balanced(cluster, a, b)
            sim.set_price("BTC-USD", 71000)
            await until(lambda: pending_since(a, "btc-high"), "pending on the leader", 10)
            since = pending_since(a, "btc-high")
            reachable = coordinator.store
            coordinator.store = LeaseStore("postgresql://postgres@127.0.0.1:1/none")  # cut off
            await reachable.close()
            await until(lambda: not coordinator.leading(time.time()), "A fenced", 10)
            await until(lambda: not pending_since(a, "btc-high"), "A forgot it", 5)
            assert b.coordinator is not None
            other = b.coordinator
            await until(lambda: other.leading(time.time()), "B leads", 15)
            await until(lambda: pending_since(b, "btc-high") == since, "B pending since then", 5)


LOCAL_RULE = """
  - name: busy
    on: fill
    count: 1000
    within: 1h
    group_by: []
"""


async def test_each_replica_keeps_and_gets_back_its_own_local_state(sim, sink, tmp_path, pg_dsn):
    cluster, _ = cluster_of(sim, sink, pg_dsn, tmp_path, LOCAL_RULE)
    async with running(cluster.paths[0]) as run_a, running(cluster.paths[1]) as run_b:
        a, b = run_a.app, run_b.app
        await balanced(cluster, a, b)
        fills = cluster.trade_all()  # one fill per subaccount, counted where it is owned
        owned_by_a = sum(1 for k in fills if cluster.shard(k) in held(a))

        def counted(app: App) -> int:
            return sum(len(w) for w in app.engine.by_name["busy"].windows.values())

        await until(lambda: counted(a) + counted(b) == len(fills), "every fill counted", 10)
        assert counted(a) == owned_by_a
        a._commit(())
        b._commit(())
    assert a._state is not None
    async with running(cluster.paths[0]) as again:  # A restarts: its count, not B's
        assert counted(again.app) == owned_by_a
        state = again.app._state
        assert state is not None
        scopes = sorted(r.key.split("\x1f")[0] for r in state.rules.load() if r.rule == "busy")
        assert scopes == ["r0", "r1"]  # one row per replica, none overwritten
