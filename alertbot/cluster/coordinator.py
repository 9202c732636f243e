"""One replica's side of the cluster: heartbeat, renew, plan, take and give back leases.

A lease counts for this replica only until `renewal sent + lease_ttl - fence_margin` by its own
clock: past that it stops alerting for the shard even if the database is unreachable, so the
next owner (which waits the full ttl) never alerts beside it, clocks agreeing within the margin.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from alertbot.cluster.assign import LEADER, lease_name, my_steps, rebalance
from alertbot.cluster.config import ClusterConfig
from alertbot.cluster.leases import Error, LeaseStore

log = logging.getLogger("alertbot.cluster")
LEAVE_TIMEOUT = 5.0  # a stop does not wait longer for an unreachable database
Changed = Callable[[set[int], set[int]], None]  # (shards gained, shards lost), called in order
Leading = Callable[[bool], None]  # the leader lease was gained (True) or lost (False)


@dataclass(frozen=True, slots=True)
class ClusterView:
    """What /healthz and metrics show of this replica's part in the cluster."""

    replica: str
    shards: int  # shards in the cluster
    held: dict[int, float]  # shard -> seconds of validity left (fenced ones left out)
    leader: bool
    store_ok: bool  # the last round reached the database
    last_round_age: float | None  # seconds since the last successful round
    lease_ttl: float


class Coordinator:
    """Holds this replica's leases; tells the source which shards it gained and lost."""

    def __init__(
        self,
        config: ClusterConfig,
        store: LeaseStore,
        on_change: Changed,
        *,
        clock: Callable[[], float] = time.time,
        replica: str | None = None,
        on_leader: Leading | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.on_change = on_change
        self.clock = clock
        self.replica = replica or config.replica
        self.valid: dict[str, float] = {}  # lease name -> valid until (local fence)
        self.active: set[int] = set()  # shards handed to the source
        self.on_leader = on_leader
        self.leads = False  # the leader lease as last told to on_leader
        self.store_ok = False
        self.last_ok: float | None = None
        self.rounds = 0
        self.started_at = clock()

    # --- what the app asks on every event ---------------------------------------------------
    def owns(self, shard: int, now: float) -> bool:
        """This replica may alert for the shard's accounts now."""
        return self.valid.get(lease_name(shard), 0.0) > now

    def leading(self, now: float) -> bool:
        """This replica may run market-wide rules now."""
        return self.valid.get(LEADER, 0.0) > now

    # --- the heartbeat ----------------------------------------------------------------------
    async def run(self) -> None:
        """Rounds every `heartbeat`, and the fence checked between them; runs until cancelled."""
        while True:
            await self.round()
            deadline = self.clock() + self.config.heartbeat
            while (left := deadline - self.clock()) > 0:
                await asyncio.sleep(min(left, 0.25))
                self.sync(self.clock())  # a lapsing lease stops alerting on time

    async def round(self) -> None:
        """One heartbeat, bounded: a database that stops answering is a lost one."""
        try:
            async with asyncio.timeout(self.config.lease_ttl - self.config.fence_margin):
                await self._round()
        except TimeoutError:
            if self.store_ok or self.last_ok is None:
                log.warning("lease store not answering: leases lapse at their fence")
            self.store_ok = False
            await self.store.close()
        self.sync(self.clock())

    async def _round(self) -> None:
        """Beat, renew, plan, release, acquire; a database error is survived."""
        cfg, me, store = self.config, self.replica, self.store
        sent = self.clock()  # validity counts from before the statements are sent
        ttl, fence = cfg.lease_ttl, cfg.lease_ttl - cfg.fence_margin
        try:
            await store.beat(me, sent, ttl)
            # fenced ones too: still ours in the database, they come back (and catch up)
            renewed = set(await store.renew(list(self.valid), me, sent, ttl))
            # a fence that passed while this round waited is a loss even if the renewal
            # succeeded: the app dropped those accounts' events, so the source must forget
            # them and catch up from the saved cursors (else its next save covers the drops)
            self.sync(self.clock())
            for name in list(self.valid):
                if name in renewed:
                    self.valid[name] = sent + fence
                else:  # expired or taken in the database: gone
                    del self.valid[name]
            now = self.clock()
            live = {r.replica for r in await store.replicas() if r.expires_at > now}
            leases = {x.name: x for x in await store.leases() if x.expires_at > now}
            current = {
                s: leases[lease_name(s)].owner
                for s in range(cfg.shards)
                if lease_name(s) in leases and leases[lease_name(s)].owner in live
            }
            plan = rebalance(cfg.shards, live | {me}, current, cfg.max_moves)
            held = [s for s in range(cfg.shards) if self.owns(s, now)]
            steps = my_steps(me, held, plan, current)
            if steps.release:
                gone = [lease_name(s) for s in steps.release]
                for name in gone:  # stop alerting first, then let the next owner in
                    self.valid.pop(name, None)
                self.sync(self.clock())
                await store.release(gone, me)
                log.info("released %d shard(s) to rebalance: %s", len(gone), list(steps.release))
            wanted = [lease_name(s) for s in steps.acquire]
            leader = leases.get(LEADER)
            if not self.leading(now) and (leader is None or leader.owner not in live):
                wanted.append(LEADER)
            got = await store.acquire(wanted, me, sent, ttl) if wanted else []
            for name in got:
                self.valid[name] = sent + fence
            if got:
                log.info("acquired %s", ", ".join(got))
            self.store_ok, self.last_ok = True, self.clock()
            self.rounds += 1
        except Error as exc:
            if self.store_ok or self.last_ok is None:
                log.warning("lease store unreachable (%s): leases lapse at their fence", exc)
            self.store_ok = False

    def sync(self, now: float) -> None:
        """Tell what was gained and lost, shards then the leader (a lapsed lease at its fence)."""
        owned = {s for s in range(self.config.shards) if self.owns(s, now)}
        gained, lost = owned - self.active, self.active - owned
        if lost:
            log.warning("no longer holding %d shard(s): %s", len(lost), sorted(lost))
        if gained or lost:
            self.active = owned
            self.on_change(gained, lost)
        leads = self.leading(now)
        if leads != self.leads:
            self.leads = leads
            if self.on_leader is not None:
                self.on_leader(leads)

    async def leave(self) -> None:
        """A clean stop (the source already stopped): free every lease for the others at once."""
        self.valid.clear()
        self.active.clear()
        try:
            async with asyncio.timeout(LEAVE_TIMEOUT):
                await self.store.leave(self.replica)
        except (Error, TimeoutError) as exc:  # the leases expire by themselves
            log.warning("could not give the leases back (%s); they expire by themselves", exc)
        await self.store.close()

    def view(self, now: float) -> ClusterView:
        """This replica's cluster state, for /healthz."""
        held = {
            s: round(self.valid[lease_name(s)] - now, 3)
            for s in range(self.config.shards)
            if self.owns(s, now)
        }
        age = None if self.last_ok is None else now - self.last_ok
        return ClusterView(
            self.replica,
            self.config.shards,
            held,
            self.leading(now),
            self.store_ok,
            age,
            self.config.lease_ttl,
        )
