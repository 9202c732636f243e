"""Which replica should hold which shard: pure functions, no I/O, no clock.

Every replica computes the same plan from the same picture (live replicas, current owners), so
they agree without talking to each other; the lease table decides any race.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

LEADER = "leader"  # the lease of the replica that runs market-wide rules


def shard_of(key: str, shards: int) -> int:
    """A stable shard for a subaccount key ("address/number"): the same on every replica."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards


def lease_name(shard: int) -> str:
    """The lease row of one shard."""
    return f"shard/{shard}"


def quotas(shards: int, replicas: Sequence[str]) -> dict[str, int]:
    """Fair shares: every replica gets floor(S/N), the first S mod N (by id) one more."""
    ordered = sorted(replicas)
    if not ordered:
        return {}
    base, extra = divmod(shards, len(ordered))
    return {r: base + (1 if i < extra else 0) for i, r in enumerate(ordered)}


@dataclass(frozen=True, slots=True)
class Plan:
    """The target owner of each shard, and how many live-owned shards it moves."""

    owners: dict[int, str]
    moves: int  # shards taken from a live replica to even out the load (bounded)
    orphans: int  # shards with no live owner, handed out at once (never bounded)


def rebalance(
    shards: int, replicas: Iterable[str], current: Mapping[int, str], max_moves: int
) -> Plan:
    """Target owners: keep what live replicas hold, hand out orphans, then even out.

    Orphans (no owner, or a dead one) go to the least loaded replica at once: availability
    first. Shards held by a live replica above its quota move to one below its quota, at most
    `max_moves` per call, so a replica joining does not stop every account at once.
    """
    live = sorted(set(replicas))
    if not live:
        return Plan({}, 0, 0)
    quota = quotas(shards, live)
    owners: dict[int, str] = {}
    load = dict.fromkeys(live, 0)
    orphaned: list[int] = []
    for shard in range(shards):
        owner = current.get(shard)
        if owner in load:
            owners[shard] = owner
            load[owner] += 1
        else:
            orphaned.append(shard)
    for shard in orphaned:  # the least loaded relative to its quota, ties by id
        owner = min(live, key=lambda r: (load[r] - quota[r], r))
        owners[shard] = owner
        load[owner] += 1
    moves = 0
    while moves < max_moves:
        over = [r for r in live if load[r] > quota[r]]
        under = [r for r in live if load[r] < quota[r]]
        if not over or not under:
            break
        giver = max(over, key=lambda r: (load[r] - quota[r], r))
        taker = min(under, key=lambda r: (load[r] - quota[r], r))
        shard = max(s for s, o in owners.items() if o == giver)  # the same choice everywhere
        owners[shard] = taker
        load[giver] -= 1
        load[taker] += 1
        moves += 1
    return Plan(owners, moves, len(orphaned))


@dataclass(frozen=True, slots=True)
class Steps:
    """What one replica does this round: leases to take and leases to give back."""

    acquire: tuple[int, ...]
    release: tuple[int, ...]


def my_steps(me: str, held: Iterable[int], plan: Plan, taken: Mapping[int, str]) -> Steps:
    """My part of a plan: take my targets no live replica holds, release what moved away.

    `taken` is every shard a live replica (me included) holds now: a target still held by
    its old owner is taken only after that owner released it (or its lease expired).
    """
    mine = set(held)
    acquire = sorted(
        s for s, owner in plan.owners.items() if owner == me and s not in mine and s not in taken
    )
    release = sorted(s for s in mine if plan.owners.get(s) != me)
    return Steps(tuple(acquire), tuple(release))


class AccountShards:
    """Which shard each watched subaccount (or parent with its children) belongs to."""

    def __init__(
        self, shards: int, subaccounts: Iterable[str], parents: Iterable[str] = ()
    ) -> None:
        self.shards = shards
        self.plain = {key: shard_of(key, shards) for key in subaccounts}
        self.parents = {key: shard_of(key, shards) for key in parents}

    def of(self, address: str, number: int) -> int | None:
        """The shard of a subaccount, a parent's child included (None: not watched)."""
        found = self.plain.get(f"{address}/{number}")
        if found is None:
            found = self.parents.get(f"{address}/{number % 128}")
        return found

    def members(self, shards: Iterable[int]) -> tuple[list[str], list[str]]:
        """The subaccount keys and parent keys in these shards, sorted."""
        wanted = set(shards)
        plain = sorted(k for k, s in self.plain.items() if s in wanted)
        return plain, sorted(k for k, s in self.parents.items() if s in wanted)
