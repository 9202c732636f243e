"""Delivery: the outbox drained by one worker per notifier, with retries, rate limits and batching.

Write order: `submit` commits the outbox rows (and, with `submit_many(..., changes=...)`, the
engine's rule-state changes and alert history in the same transaction) before any send. A worker
sends the oldest pending rows of its notifier as one message and marks them `sent` only after the
notifier answered ok. A crash between the two re-sends that one message at the next start: at
least once, and at most the messages in flight are duplicated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from alertbot.core.backoff import Backoff
from alertbot.core.durations import format_duration
from alertbot.core.errors import ConfigError, Problem
from alertbot.core.model import Notification
from alertbot.core.secrets import mask
from alertbot.core.tasks import Tasks
from alertbot.notify.base import Notifier, SendResult, guarded_send
from alertbot.notify.delivery_config import DeliveryConfig
from alertbot.notify.held import Held, Key
from alertbot.notify.outbox import dead_letter_note
from alertbot.notify.ratelimit import TokenBucket
from alertbot.state import StateError, StateWriteError
from alertbot.state.api import DEAD, PENDING, SENT, OutboxRow, StateChanges, StateStore

log = logging.getLogger("alertbot.delivery")
IDLE_POLL = 5.0  # an idle worker re-reads the outbox this often (sees `alertbot outbox retry`)
PURGE_EVERY = 3600.0
UNWRITABLE_LOG_EVERY = 60.0  # while the state database cannot be written, one line a minute
NO_NOTIFIER = "(none)"  # where a notification that names no notifier is dead-lettered
INF = float("inf")
# held writes are retried at least this often: a failing call is cheap (the store's own backoff
# refuses it at once), and held rule-state rows must land before another replica's take-over
SPILL_RETRY_MAX = 2.0


@dataclass
class LaneStats:
    """Counters of one notifier, for metrics and `status()`."""

    sent: int = 0  # notifications acknowledged
    messages: int = 0  # messages acknowledged (a batch is one message)
    failed: int = 0  # failed attempts (messages)
    dead: int = 0  # notifications given up on
    last_error: str = ""  # masked


@dataclass(eq=False)
class _Lane:
    """One notifier's queue state: its worker task, rate bucket and retry backoff."""

    name: str
    notifier: Notifier
    bucket: TokenBucket | None
    backoff: Backoff
    rate: tuple[int, float] | None = None  # (messages, per): the limit, local or shared
    local: TokenBucket | None = None  # a shared limit's stand-in while the database is lost
    stats: LaneStats = field(default_factory=LaneStats)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    blocked_until: float = 0.0  # retry backoff or Retry-After: nothing is sent before
    unsaved_sent: set[int] = field(default_factory=set)  # acknowledged, not yet recorded
    task: asyncio.Task[None] | None = None


class Delivery:
    """Sends every outbox row to its notifier at least once; never drops one."""

    def __init__(
        self,
        store: StateStore,
        notifiers: Mapping[str, Notifier],
        config: DeliveryConfig,
        *,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        hold: int | None = None,
    ) -> None:
        problems = config.problems(notifiers)
        if problems:
            raise ConfigError([Problem("delivery", 0, 0, key, msg) for key, msg in problems])
        self.store = store
        self.outbox = store.outbox
        self.config = config
        self._clock, self._rng, self._sleep = clock, rng, sleep
        now = clock()
        self.lanes = {name: self._lane(name, n, now) for name, n in notifiers.items()}
        self.unknown_dead = 0  # notifications naming a notifier that is not configured
        self._spill: list[Notification] = []  # not yet written (disk full): retried
        self._held = Held()  # the spill's outbox rows, sent from memory meanwhile
        self.unwritable_since: float | None = None  # writes failing since (health says so)
        self.unwritable_reason = ""
        self._unwritable_logged = -INF
        self._spill_changes = StateChanges()
        self._spilled = asyncio.Event()
        self._spill_backoff = Backoff(
            initial=min(self.config.backoff.initial, SPILL_RETRY_MAX),
            max=SPILL_RETRY_MAX,
            multiplier=self.config.backoff.multiplier,
            rng=self._rng,
        )
        self._spill_task: asyncio.Task[None] | None = None
        self.hold = hold  # past this many held notifications, `room()` waits (state.buffer)
        # a cluster's say on rule-state writes: none for accounts this replica no longer owns,
        # its local rows under its own name (App._shape_state); applied again to held changes
        self.shape_state: Callable[[StateChanges], StateChanges] | None = None
        self._room = asyncio.Event()
        self._room.set()
        self._depth: dict[str, tuple[int, float]] = {}  # the last depth read (for status())
        self.tasks = Tasks()  # the workers; `alertbot run` watches their failures
        self._stopping = asyncio.Event()
        self._draining = False
        self._resting: set[str] = set()  # lanes out of work while draining
        self._deadline = INF
        self._last_purge = -INF
        self.running = False

    def _backoff(self) -> Backoff:
        cfg = self.config.backoff
        return Backoff(initial=cfg.initial, max=cfg.max, multiplier=cfg.multiplier, rng=self._rng)

    def _lane(self, name: str, notifier: Notifier, now: float) -> _Lane:
        limit = self.config.rate_limits.get(name)
        rate = (limit.messages, limit.per) if limit is not None else notifier.rate
        shared = self.store.rate_limits is not None  # replicas spend from one bucket in the store
        bucket = TokenBucket(rate[0], rate[1], now) if rate and not shared else None
        return _Lane(name, notifier, bucket, self._backoff(), (rate[0], rate[1]) if rate else None)

    # -- submitting (sync, from the engine loop) -------------------------------------------

    def submit(self, note: Notification) -> None:
        """Write the note's outbox rows, one per notifier, and wake their workers."""
        self.submit_many((note,))

    def submit_many(
        self, notes: Sequence[Notification], *, changes: StateChanges | None = None
    ) -> None:
        """Write notes and the engine's changes in one transaction; on a failed write keep them."""
        batch = [*self._spill, *notes]
        changed = self._spill_changes.then(changes) if changes else self._spill_changes
        if self.shape_state is not None and changed.rules:
            changed = self.shape_state(changed)
        now = self._clock()
        woken: set[str] = set()
        stored: dict[Key, int] = {}
        try:
            with self.store.transaction():
                for note in batch:
                    woken |= self._write(note, now, stored)
                self.store.save(changed, now)
        except StateWriteError as exc:
            self._keep(batch, changed, exc)
            return
        self._spill, self._spill_changes = [], StateChanges()
        self._room.set()
        self._held.written(stored)
        self._written_again()
        for name in woken:
            self.lanes[name].wake.set()
        self._maybe_purge(now)

    def _write(self, note: Notification, now: float, stored: dict[Key, int]) -> set[str]:
        woken = set()
        for name in dict.fromkeys(note.notify or (NO_NOTIFIER,)):
            settled = self._held.status_of(note, name)
            if settled is not None:  # sent (or refused) from memory while the disk was full
                status, error = settled
                self.outbox.add(note, name, now, status=status, error=error)
                if status == DEAD:
                    woken |= self._report_dead([note], name, error, now)
                continue
            if name in self.lanes:
                stored[(id(note), name)] = self.outbox.add(note, name, now)
                woken.add(name)
                continue
            known = ", ".join(sorted(self.lanes)) or "none"
            error = f"unknown notifier {name!r} (configured: {known})"
            self.outbox.add(note, name, now, status=DEAD, error=error)
            self.unknown_dead += 1
            log.error("dead letter: rule %s names %s", note.rule, error)
            woken |= self._report_dead([note], name, error, now)
        return woken

    def _keep(self, batch: list[Notification], changes: StateChanges, exc: Exception) -> None:
        """A write failed (disk full, I/O error): hold it in memory, retry, say so once a minute."""
        self._spill, self._spill_changes = batch, changes
        self._spilled.set()
        if self.hold is not None and len(batch) >= self.hold and self._room.is_set():
            self._room.clear()
            log.error("%d notification(s) held in memory reach state.buffer (%d): no more "
                      "events until the state database is back", len(batch), self.hold)  # fmt: skip
        now = self._clock()
        if self.unwritable_since is None:
            self.unwritable_since = now
        self.unwritable_reason = mask(str(exc))
        pairs = [(n, name) for n in batch for name in dict.fromkeys(n.notify) if name in self.lanes]
        for name in self._held.hold(pairs, now):  # sent at once, from memory
            self.lanes[name].wake.set()
        if now - self._unwritable_logged >= UNWRITABLE_LOG_EVERY:
            self._unwritable_logged = now
            log.error("cannot write the state database: %s; %d notification(s) held in memory "
                      "and retried (logged once a minute)", self.unwritable_reason,
                      len(batch))  # fmt: skip

    def _written_again(self) -> None:
        if self.unwritable_since is not None:
            log.warning("state database writable again: what was held in memory is saved")
        self.unwritable_since, self.unwritable_reason = None, ""
        self._unwritable_logged = -INF

    def _report_dead(
        self, notes: Sequence[Notification], notifier: str, error: str, now: float
    ) -> set[str]:
        """Tell the fallback notifier; its own failures are never reported (no recursion)."""
        fallback = self.config.fallback
        if fallback is None or notifier == fallback:
            return set()
        for note in notes:
            report = dead_letter_note(note, notifier, mask(error), fallback)
            self.outbox.add(report, fallback, now, fallback=True)
        return {fallback}

    def _maybe_purge(self, now: float) -> None:
        if self.config.retention <= 0 or now - self._last_purge < PURGE_EVERY:
            return
        self._last_purge = now
        with contextlib.suppress(StateWriteError):
            self.outbox.purge(now - self.config.retention)
            self.store.history.purge(now - self.config.retention)

    async def room(self) -> None:
        """Wait while the held notifications fill `hold` (the source then stops reading)."""
        await self._room.wait()

    @property
    def paused(self) -> bool:
        """True while the buffer of held notifications is full."""
        return not self._room.is_set()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start one worker per notifier (inside the running loop); resume pending rows."""
        if self.running:
            return
        self._maybe_purge(self._clock())
        for lane in self.lanes.values():
            # a stored time is trusted only up to max_retry_after (older versions saved inf)
            due = self.outbox.head_next_attempt(lane.name)
            lane.blocked_until = min(due, self._clock() + self.config.max_retry_after)
            lane.task = self.tasks.spawn(self._work(lane), f"alertbot-delivery-{lane.name}")
        self._spill_task = self.tasks.spawn(self._spill_loop(), "alertbot-delivery-spill")
        self.running = True

    async def stop(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 - a drain budget
        """Send what can be sent within `timeout`, leave the rest pending; never drop."""
        timeout = self.config.drain_timeout if timeout is None else timeout
        self._draining, self._deadline = True, self._clock() + timeout
        tasks = [lane.task for lane in self.lanes.values() if lane.task is not None]
        for lane in self.lanes.values():
            lane.wake.set()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        self._stopping.set()
        if self._spill_task is not None:
            tasks.append(self._spill_task)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for lane in self.lanes.values():
            self._save_acks(lane)
        if self._spill or self._spill_changes:
            self.submit_many(())
        if self._spill:
            log.error("could not write %d notification(s) at shutdown: lost", len(self._spill))
        self.running = False

    # -- the worker --------------------------------------------------------------------------

    async def _work(self, lane: _Lane) -> None:
        """Run one lane; while draining, it ends when every lane is out of work."""
        try:
            await self._lane_loop(lane)
        finally:
            self._rest(lane)

    def _rest(self, lane: _Lane) -> bool:
        """Mark a lane out of work; True when all are (then wake them all to finish)."""
        self._resting.add(lane.name)
        if len(self._resting) < len(self.lanes):
            return False
        for other in self.lanes.values():
            other.wake.set()
        return True

    async def _lane_loop(self, lane: _Lane) -> None:
        """Run a lane's steps; an unexpected error is logged, backed off from, and survived."""
        while not self._stopping.is_set():
            try:
                if await self._lane_step(lane):
                    return
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as exc:
                delay = lane.backoff.next_delay()
                detail = mask(f"{type(exc).__name__}: {exc}", lane.notifier.secrets())
                log.error("delivery to %s hit an unexpected error, retrying in %s: %s",
                          lane.notifier.describe(), format_duration(delay), detail)  # fmt: skip
                lane.stats.last_error = detail
                await self._pause(delay)

    async def _lane_step(self, lane: _Lane) -> bool:
        """One round: send the oldest rows as one message if backoff and rate allow.

        Returns True when the lane is done (draining and out of work or time).
        """
        self._save_acks(lane)
        lane.wake.clear()
        limit = max(1, int(lane.notifier.max_batch))
        try:
            rows = self.outbox.due(lane.name, limit, lane.unsaved_sent)
        except StateWriteError:  # the database is unreachable (PostgreSQL): reads fail too,
            rows = []  # but what is held in memory still goes out
        if not (rows and rows[0].solo):
            rows += self._held.due(lane.name, limit - len(rows))
        if not rows:
            if self._draining and self._rest(lane):
                return True  # a dead letter may still wake the fallback until all are done
            await self._idle(lane)
            return False
        self._resting.discard(lane.name)
        wait = self._wait_needed(lane)
        if wait > 0:  # meanwhile more rows arrive and join the next batch
            if self._clock() + wait > self._deadline:
                return True  # draining: leave them pending for the next start
            await self._pause(wait)
            return False
        if lane.bucket is not None:
            lane.bucket.take(self._clock())
        elif (shared := self._shared_wait(lane)) > 0:
            await self._pause(shared)  # another replica spent the token: the rows stay claimed
            return False
        self._held.sending(rows)
        self._settle(lane, rows, await self._attempt(lane, rows))
        return False

    def _shared_wait(self, lane: _Lane) -> float:
        """Spend a token of the store's shared bucket (0), or how long until there is one."""
        limits = self.store.rate_limits
        if limits is None or lane.rate is None:
            return 0.0
        try:
            return limits.take(lane.name, *lane.rate)
        except StateWriteError:  # the shared bucket is unreachable: this process keeps its own
            now = self._clock()
            if lane.local is None:
                lane.local = TokenBucket(*lane.rate, now)
            wait = lane.local.wait_time(now)
            if wait == 0.0:
                lane.local.take(now)
            return wait

    def _wait_needed(self, lane: _Lane) -> float:
        now = self._clock()
        wait = max(0.0, lane.blocked_until - now)
        if lane.bucket is not None:
            wait = max(wait, lane.bucket.wait_time(now))
        return wait

    async def _idle(self, lane: _Lane) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(IDLE_POLL):
                await lane.wake.wait()

    async def _pause(self, delay: float) -> None:
        """Sleep (the injected sleep) unless stop() comes first."""
        sleeper = asyncio.ensure_future(self._sleep(delay))
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            stopper.cancel()

    async def _attempt(self, lane: _Lane, rows: list[OutboxRow]) -> SendResult:
        """One send, bounded in time; a raising plugin counts as a failed attempt."""
        result = await guarded_send(lane.notifier, [row.note for row in rows], self.config.timeout)
        return replace(result, detail=mask(result.detail, lane.notifier.secrets()))

    def _settle(self, lane: _Lane, rows: list[OutboxRow], outcome: SendResult) -> None:
        now = self._clock()
        if outcome.ok:
            lane.stats.sent += len(rows)
            lane.stats.messages += 1
            lane.backoff.attempts, lane.blocked_until = 0, 0.0
            stored = self._held.outcome(lane.name, rows, SENT)
            lane.unsaved_sent.update(row.id for row in stored)
            self._save_acks(lane)
            return
        lane.stats.failed += 1
        lane.stats.last_error = mask(outcome.detail)
        dead = outcome.permanent and len(rows) == 1
        status, solo = (DEAD, False) if dead else (PENDING, outcome.permanent)
        stored = self._held.outcome(lane.name, rows, status, mask(outcome.detail), solo=solo)
        try:
            if outcome.permanent:
                self._refused(lane, rows, stored, outcome.detail, now)
            else:
                self._retry_later(lane, stored, outcome, now)
        except StateWriteError as exc:
            log.error("cannot record a failed delivery to %s: %s", lane.name, exc)
            lane.blocked_until = now + lane.backoff.next_delay()

    def _save_acks(self, lane: _Lane) -> None:
        """Record acknowledgements; on a failed write keep them (never re-sent by this process)."""
        if not lane.unsaved_sent:
            return
        try:
            self.outbox.mark_sent(sorted(lane.unsaved_sent), self._clock())
        except StateWriteError as exc:
            log.error("cannot record %d delivery(ies): %s", len(lane.unsaved_sent), exc)
            return
        lane.unsaved_sent.clear()

    def _refused(
        self, lane: _Lane, rows: list[OutboxRow], stored: list[OutboxRow], detail: str, now: float
    ) -> None:
        """A permanent error: alone, the row is dead; in a batch, each row is retried alone.

        `stored` are the rows of `rows` in the store (memory rows were settled by `Held`).
        """
        if len(rows) > 1:
            log.warning("%s refused a batch of %d; sending them one by one: %s",
                        lane.notifier.describe(), len(rows), mask(detail))  # fmt: skip
            if stored:
                self.outbox.mark_solo([row.id for row in stored], detail, now)
            return
        if stored:
            self._give_up(lane, stored, f"refused: {detail}", now)
            return
        lane.stats.dead += 1
        what = lane.notifier.describe()
        log.error("dead letter: 1 notification to %s (recorded once the state database "
                  "can be written): refused: %s", what, mask(detail))  # fmt: skip

    def _honoured(self, retry_after: float | None) -> float | None:
        """A service's Retry-After as delivery waits it: finite, non-negative and capped."""
        if retry_after is None or not math.isfinite(retry_after) or retry_after < 0:
            return None
        return min(retry_after, self.config.max_retry_after)

    def _retry_later(
        self, lane: _Lane, rows: list[OutboxRow], outcome: SendResult, now: float
    ) -> None:
        """Back off (or wait as long as Retry-After says); too many attempts or too old: dead."""
        delay = self._honoured(outcome.retry_after)
        if delay is None:
            delay = lane.backoff.next_delay()
        cfg = self.config
        expired = [
            r
            for r in rows
            if r.attempts + 1 >= cfg.max_attempts or now - r.created_at >= cfg.max_age
        ]
        gone = {r.id for r in expired}
        keep = [r.id for r in rows if r.id not in gone]
        with self.store.transaction():
            if keep:
                self.outbox.mark_retry(keep, now + delay, outcome.detail, now)
            if expired:
                oldest = max(now - r.created_at for r in expired)
                attempts = max(r.attempts + 1 for r in expired)
                why = f"gave up after {attempts} attempt(s) over {format_duration(oldest)}"
                self._give_up(lane, expired, f"{why}: {outcome.detail}", now)
        lane.blocked_until = now + delay
        what = lane.notifier.describe()
        log.warning("delivery to %s failed, retrying in %s: %s", what, format_duration(delay),
                    mask(outcome.detail))  # fmt: skip

    def _give_up(self, lane: _Lane, rows: list[OutboxRow], error: str, now: float) -> None:
        with self.store.transaction():
            self.outbox.mark_dead([row.id for row in rows], error, now)
            woken = self._report_dead([row.note for row in rows], lane.name, error, now)
        lane.stats.dead += len(rows)
        log.error("dead letter: %d notification(s) to %s: %s",
                  len(rows), lane.notifier.describe(), mask(error))  # fmt: skip
        for name in woken:
            self.lanes[name].wake.set()

    # -- the spill: notifications a failed write left in memory ------------------------------

    def flush(self) -> bool:
        """Try writing what is held now, ahead of the backoff; True when nothing is held."""
        if self._spill or self._spill_changes:
            self.submit_many(())
        return not self._spill and not self._spill_changes

    async def _spill_loop(self) -> None:
        """Retry writing kept notifications with backoff until the disk takes them."""
        while not self._stopping.is_set():
            await self._spilled.wait()
            await self._pause(self._spill_backoff.next_delay())
            self.submit_many(())
            if not self._spill and not self._spill_changes:
                self._spilled.clear()
                self._spill_backoff.attempts = 0

    # -- observability -------------------------------------------------------------------------

    def wake(self, notifier: str) -> None:
        """Look at a notifier's queue now (a dead letter was put back, e.g. from the dashboard)."""
        lane = self.lanes.get(notifier)
        if lane is not None:
            lane.wake.set()

    def status(self) -> dict[str, Any]:
        """Counters and queue depth per notifier, for health pages and metrics."""
        now = self._clock()
        with contextlib.suppress(StateError):  # the database is gone: its last known depth
            self._depth = self.outbox.depth()
        depth = self._depth
        lanes = {}
        for name, lane in self.lanes.items():
            pending, oldest = depth.get(name, (0, now))
            lanes[name] = {
                **asdict(lane.stats),
                "pending": pending,
                "oldest_pending_age": max(0.0, now - oldest) if pending else 0.0,
                "blocked_for": max(0.0, lane.blocked_until - now),
                "notifier": lane.notifier.describe(),
            }
        return {
            "running": self.running,
            "outbox_depth": sum(n for n, _ in depth.values()),
            "oldest_pending_age": max(
                (v["oldest_pending_age"] for v in lanes.values()), default=0.0
            ),
            "spilled": len(self._spill),
            "held": len(self._held),
            "unwritable": self.unwritable_reason if self.unwritable_since is not None else "",
            "paused": self.paused,
            "unknown_dead": self.unknown_dead,
            "notifiers": lanes,
        }
