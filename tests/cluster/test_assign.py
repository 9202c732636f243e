"""Shard assignment and rebalancing, pure: every shard owned once, moves bounded."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from alertbot.cluster.assign import AccountShards, my_steps, quotas, rebalance, shard_of

ADDR = "dydx199tqg4wdlnu4qjlxchpd7seg454937hjrknju4"


def test_shard_of_is_stable_and_spread():
    keys = [f"{ADDR}/{i}" for i in range(300)]
    first = [shard_of(k, 16) for k in keys]
    assert first == [shard_of(k, 16) for k in keys]
    assert shard_of(f"{ADDR}/0", 16) == 13  # fixed by sha256: the same on every replica, forever
    counts = [first.count(s) for s in range(16)]
    assert min(counts) >= 5
    assert max(counts) <= 35


def test_quotas_differ_by_at_most_one():
    assert quotas(10, ["b", "a", "c"]) == {"a": 4, "b": 3, "c": 3}
    assert quotas(2, ["a", "b", "c"]) == {"a": 1, "b": 1, "c": 0}


def test_a_children_follow_their_parent():
    shards = AccountShards(8, [f"{ADDR}/1"], [f"{ADDR}/2"])
    assert shards.of(ADDR, 2 + 128 * 3) == shards.of(ADDR, 2) == shard_of(f"{ADDR}/2", 8)
    assert shards.of(ADDR, 5) is None
    _plain, parents = shards.members([shard_of(f"{ADDR}/2", 8)])
    assert parents == [f"{ADDR}/2"]


def test_a_dead_replicas_shards_go_out_at_once_unbounded():
    current = {s: ("a" if s < 6 else "b") for s in range(12)}
    plan = rebalance(12, ["b", "c"], current, max_moves=1)
    assert plan.orphans == 6
    assert sorted(plan.owners) == list(range(12))
    assert {plan.owners[s] for s in range(6, 12)} == {"b"}  # a live owner keeps its shards
    load = [list(plan.owners.values()).count(r) for r in ("b", "c")]
    assert load == [6, 6]


def test_a_joining_replica_gets_shards_a_few_per_round():
    current = dict.fromkeys(range(12), "a")
    owners: dict[int, str] = current
    rounds = 0
    while True:
        plan = rebalance(12, ["a", "b", "c"], owners, max_moves=2)
        assert plan.moves <= 2
        moved = sum(1 for s in range(12) if plan.owners[s] != owners[s])
        assert moved == plan.moves
        owners = plan.owners
        rounds += 1
        if plan.moves == 0:
            break
    assert rounds == 5  # 8 moves, 2 per round, then a quiet round
    assert sorted(list(owners.values()).count(r) for r in "abc") == [4, 4, 4]


def test_steps_wait_for_the_old_owner_to_release():
    plan = rebalance(4, ["a", "b"], dict.fromkeys(range(4), "a"), max_moves=4)
    moved = [s for s, o in plan.owners.items() if o == "b"]
    held_by_a = dict.fromkeys(range(4), "a")
    assert my_steps("b", [], plan, held_by_a).acquire == ()  # still a's: not yet
    assert my_steps("a", range(4), plan, held_by_a).release == tuple(moved)
    freed = {s: "a" for s in range(4) if s not in moved}
    assert my_steps("b", [], plan, freed).acquire == tuple(moved)


@settings(max_examples=200, deadline=None)
@given(
    shards=st.integers(1, 40),
    replicas=st.lists(st.sampled_from("abcdef"), min_size=1, max_size=6, unique=True),
    owners=st.dictionaries(st.integers(0, 39), st.sampled_from("abcdefg")),
    max_moves=st.integers(1, 5),
)
def test_every_shard_is_owned_once_by_a_live_replica(shards, replicas, owners, max_moves):
    current = {s: o for s, o in owners.items() if s < shards}
    plan = rebalance(shards, replicas, current, max_moves)
    assert sorted(plan.owners) == list(range(shards))
    assert set(plan.owners.values()) <= set(replicas)
    assert plan.moves <= max_moves
    kept = [s for s, o in current.items() if o in replicas and plan.owners[s] != o]
    assert len(kept) == plan.moves  # only the bounded moves take a shard from a live owner
    # repeated rounds converge to the quotas
    for _ in range(shards + 1):
        plan = rebalance(shards, replicas, plan.owners, max_moves)
    load = sorted(list(plan.owners.values()).count(r) for r in replicas)
    assert load == sorted(quotas(shards, replicas).values())
