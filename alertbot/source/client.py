"""The live Indexer source: sharded reconnecting connections, watchdogs and the REST fallback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from alertbot import __version__
from alertbot.core.backoff import Backoff
from alertbot.core.durations import format_duration
from alertbot.core.model import Event
from alertbot.core.tasks import Tasks
from alertbot.source.address import parse_subaccount
from alertbot.source.buffer import EventBuffer
from alertbot.source.catchup import is_catchup
from alertbot.source.config import SourceConfig
from alertbot.source.connstate import Action
from alertbot.source.cursors import Keep, SourceCursors
from alertbot.source.feed import Feed
from alertbot.source.normalize import Normalizer
from alertbot.source.problems import ProblemLog, frame_shape
from alertbot.source.protocol import CAPS
from alertbot.source.rest import IndexerRest
from alertbot.source.restsync import RestSync, RoundHook
from alertbot.source.subscriptions import (
    ACCOUNT_CHANNELS,
    Pacer,
    Subscription,
    account_subscriptions,
    key_of,
    shard,
    wanted,
)
from alertbot.state import StateError, StateWriteError
from alertbot.state.api import StateStore

log = logging.getLogger("alertbot.source")
RawHook = Callable[[int, float, bytes], None]
CloseHook = Callable[[int, float, int | None, str], None]
CLOSE_TIMEOUT = 5.0  # how long a closing handshake may take (at shutdown too)
CURSOR_SAVE = 1.0  # how often the catch-up cursors are saved (when something changed)
RESTORE_RETRY = 1.0  # a take-over retries reading the previous owner's cursors this often


async def _quietly(coro: Any) -> None:
    """A goodbye that may find the socket closed already (the server forgets it anyway)."""
    with contextlib.suppress(ConnectionClosed, OSError):
        await coro


class FrameFailed(Exception):
    """Handling one frame raised: the connection is closed and reconnected, the run goes on."""


class IndexerSource:
    """Owns every connection task; `async with source: async for event in source: ...`.

    Each connection reconnects forever with capped, jittered backoff and resubscribes what it
    carries; subscriptions are spread over connections by the server's per-connection caps.
    """

    def __init__(
        self,
        config: SourceConfig,
        *,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        on_raw: RawHook | None = None,
        on_close: CloseHook | None = None,
        env: dict[str, str] | None = None,
        tick: float = 0.25,
        queue_size: int = 10_000,
        scheduler: AsyncIOScheduler | None = None,
        state: StateStore | None = None,
        on_rest: RoundHook | None = None,
        keep: Keep | None = None,
    ) -> None:
        """`keep` makes a cluster replica: it starts with no subaccount and is told which to
        watch (`watch`, `unwatch`); `keep(address, number)` says whether it owns one now."""
        self.config = config
        self.dynamic = keep is not None
        self._keep = keep
        self._watching: set[str] = set()  # subscription keys of the subaccounts watched now
        self.ws_url, self.rest_url = config.urls(env)
        self.clock = clock
        self._rng = rng
        self._on_raw = on_raw
        self._on_close = on_close
        self._tick = min(tick, config.silence_timeout / 4, config.gap_timeout / 4)
        self.problems = ProblemLog()
        self.normalizer = Normalizer(on_problem=self.problems)
        self.normalizer.lazy = True  # a price revalues an account once per batch, not per frame
        self.feed = Feed(
            self.normalizer,
            gap_timeout=config.gap_timeout,
            silence_timeout=config.silence_timeout,
            snapshot_retry=config.snapshot_retry,
            rejected_retry=config.rejected_retry,
            problems=self.problems,
        )
        self.feed.on_subscription_error = lambda note: log.error("configuration error: %s", note)
        self.rest = IndexerRest(self.rest_url, timeout=config.rest_timeout)
        self.sync = RestSync(
            self.rest,
            self.normalizer,
            clock,
            lookback=config.catchup.lookback,
            on_round=on_rest,
        )
        saves = self._taken_over if keep is not None else None
        self.cursors = SourceCursors(state, self.normalizer, config, keep=saves) if state else None
        self.caps = dict(CAPS)
        self.buffer = EventBuffer(queue_size, flush=self._flush)
        self.polling = False
        self._sockets: dict[int, ClientConnection] = {}
        self._sendq: dict[int, asyncio.Queue[Subscription]] = {}
        self._pacers: dict[int, Pacer] = {}
        self._immediate: set[int] = set()
        self._conn_tasks: dict[int, asyncio.Task[None]] = {}
        self.tasks = Tasks()  # every task the source owns; `alertbot run` watches failures
        self._scheduler = scheduler
        self._own_scheduler = scheduler is None
        self._stopping = False
        self._stopped = False
        self._taken = False  # the consumer holds a batch it has not finished
        self._batch: list[Event] = []  # that batch
        self._drained = asyncio.Event()  # set when the consumer comes back for more
        self.frame_failures = 0  # frames whose handling raised (each one restarted a connection)
        self._next_save = 0.0
        self.cursors_unsaved = False  # the last cursor save failed (full disk): retried

    @property
    def connections(self) -> int:
        """How many Indexer connections the subscriptions are spread over."""
        return len(self.feed.conns)

    # --- lifecycle ----------------------------------------------------------------------------
    async def __aenter__(self) -> IndexerSource:
        """Start every connection, the timer task and the scheduler."""
        now = self.clock()
        subs = wanted(self.config, accounts=not self.dynamic)
        for index, group in enumerate(shard(subs, self.caps)):
            for sub in group:
                self.feed.assign(index, sub, now)
        if self.cursors is None:
            self._start_connections()
        else:  # catch up over REST first, so the first snapshots diff against what it found
            self._spawn(self._catch_up(), "alertbot-source-catchup")
        self._spawn(self._ticker(), "alertbot-source-ticker")
        if self._scheduler is None:
            self._scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop())
        if self.config.reconcile_interval > 0:
            self._scheduler.add_job(
                self._reconcile_all,
                "interval",
                seconds=self.config.reconcile_interval,
                id="source-reconcile",
                coalesce=True,
                max_instances=1,
            )
        if self._own_scheduler:
            self._scheduler.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop in order: connections (closed cleanly), timers, scheduler, HTTP pool."""
        await self.stop()

    async def quiesce(self, timeout: float) -> None:  # noqa: ASYNC109 - a drain budget
        """Take no more frames, then give the consumer `timeout` to finish what is buffered.

        The cursors reflect every event emitted; they can be saved at stop only once the engine
        has had them all, or a restart re-reports what it already told (a position closed...).
        """
        if not self._stopping:
            self._stopping = True
            await self._close_sockets()
            await self.tasks.cancel()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not self._settled():
                    self._drained.clear()
                    await self._drained.wait()

    async def stop(self) -> None:
        """Close every connection and task; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        await self.quiesce(0.0)
        self._save_cursors()
        if self._scheduler is not None:
            for job_id in ("source-reconcile", "source-poll"):
                if self._scheduler.get_job(job_id):
                    self._scheduler.remove_job(job_id)
            if self._own_scheduler and self._scheduler.running:
                self._scheduler.shutdown(wait=False)
        await self.rest.close()

    async def _close_sockets(self) -> None:
        """Say goodbye with 1000 (normal closure); cancelling inside `connect` would send 1011."""
        sockets = list(self._sockets.values())
        if sockets:
            closing = (ws.close(1000, "alertbot shutting down") for ws in sockets)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await asyncio.gather(*closing, return_exceptions=True)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        """One event at a time (`alertbot watch`, tools): an event counts as handled when taken."""
        while True:
            for event in await self.buffer.take():
                yield event

    async def batches(self) -> AsyncIterator[list[Event]]:
        """Events in the batches they arrived in (cheaper than one await per event).

        The consumer asks for the next batch only once it has handled the last: that is when
        the cursors may be saved (every event they reflect reached the engine).
        """
        while True:
            batch = await self.buffer.take()
            self._taken, self._batch = True, batch
            yield batch
            self._taken, self._batch = False, []
            self._drained.set()
            now = self.clock()
            if now >= self._next_save:
                self._next_save = now + CURSOR_SAVE
                self._save_cursors()

    def _flush(self) -> list[Event]:
        """As the consumer takes a batch: the accounts its prices moved, valued once, now."""
        return self.normalizer.flush(self.clock())

    def _settled(self) -> bool:
        """Every event emitted so far has been handled by the consumer."""
        return not self._taken and not len(self.buffer)

    def _busy(self) -> set[tuple[str, int]]:
        """Subaccounts with an event the consumer has not handled yet: their cursors wait.

        Only the kinds a cursor reflects (fills, transfers, orders, positions) count: account
        values and risk are recomputed, not diffed, so they never hold a save back.
        """
        return _diffed((*self.buffer.pending(), *self._batch))

    async def _emit(self, events: list[Event]) -> None:
        if self._keep is not None:  # a REST round that ran while its subaccount was given up
            events = [e for e in events if self._owned(e)]
        if self.buffer.put(events):
            await self.buffer.room()

    # --- catch-up -----------------------------------------------------------------------------
    async def _catch_up(self) -> None:
        """Restore the cursors, report what happened while alertbot was down, then connect.

        A reconciliation of every connection follows its first snapshot, so what happened
        between this REST round and the subscriptions is found too.
        """
        assert self.cursors is not None
        restored = 0 if self.dynamic else self.cursors.restore()
        subs = self._account_subs(self.feed.conns)
        found = await self.sync.accounts(subs, deep=True, origin="start")
        # the account values come from the snapshots a moment later: no second `account` event
        events = [e for e in found if e.kind != "account"]
        log.info("catch-up: %d subaccount cursor(s) restored, %d event(s)", restored, len(events))
        if events:
            await self._emit(events)
        self._start_connections()
        for index in self.feed.conns:
            self._spawn(self._reconcile_conn(index), f"alertbot-reconcile-{index}")

    def _save_cursors(self) -> None:
        """Persist the cursors of every subaccount whose emitted events the consumer has taken.

        The consumer handles a batch fully before it takes the next, so a subaccount with no
        event in the buffer nor in the batch being handled has had every event its cursor
        reflects reach the engine; the others keep their last save until the next try. (Waiting
        for an empty buffer instead saved nothing for as long as events kept coming.)
        """
        if self.cursors is None:
            return
        try:
            self.cursors.save(self.clock(), skip=() if self._settled() else self._busy())
        except StateWriteError as exc:  # a full disk: the last saved cursors stand
            if not self.cursors_unsaved:
                log.error("cannot save the catch-up cursors, will retry: %s", exc)
            self.cursors_unsaved = True
        else:
            self.cursors_unsaved = False

    # --- subaccounts added and dropped at run time (a cluster replica) -------------------------
    def watch(self, plain: list[str], parents: list[str]) -> None:
        """Take these subaccounts and parents ("address/number") over: catch up, then subscribe.

        Their cursors are read fresh from the shared store (the previous owner saved them), a
        REST round diffs against them (what happened during the handover is told), and only
        then are they subscribed, so their first snapshots are diffs too.
        """
        config = self.config.model_copy(
            update={
                "subaccounts": [parse_subaccount(k) for k in plain],
                "parent_subaccounts": [parse_subaccount(k, parent=True) for k in parents],
            }
        )
        subs = account_subscriptions(config)
        for sub in subs:
            self._forget(sub)
            self._watching.add(sub.key)
        if subs:
            self._spawn(self._take_over(subs), "alertbot-source-takeover")

    def unwatch(self, plain: list[str], parents: list[str]) -> None:
        """Stop watching these at once: unsubscribe, forget their state, stop saving cursors."""
        batched = self.config.batched
        subs = [Subscription("v4_subaccounts", k, batched) for k in plain]
        subs += [Subscription("v4_parent_subaccounts", k, batched) for k in parents]
        for sub in subs:
            self._watching.discard(sub.key)
            where = self.feed.drop(sub.key)
            ws = self._sockets.get(where[0]) if where is not None else None
            if ws is not None:
                self._spawn(_quietly(ws.send(sub.unsubscribe_message().decode())), "unsubscribe")
            self._forget(sub)

    def _taken_over(self, address: str, number: int) -> bool:
        """A cluster replica saves the cursor of an account it owns and has taken over.

        Owning is not enough: between a lease gained and the take-over (`watch`, after the
        rule state is loaded) the normalizer may hold what a REST round of an earlier ownership
        left after its `unwatch`; saved, it would claim events the next catch-up must tell.
        """
        assert self._keep is not None
        if not self._keep(address, number):
            return False
        watching = self._watching
        return (
            key_of("v4_subaccounts", f"{address}/{number}") in watching
            or key_of("v4_parent_subaccounts", f"{address}/{number % 128}") in watching
        )

    def _owned(self, event: Event) -> bool:
        """Not an account's event, or one of an account this replica owns now."""
        assert self._keep is not None
        address, number = event.data.get("address"), event.data.get("subaccount")
        if not isinstance(address, str) or not isinstance(number, int):
            return True
        return self._keep(address, number)

    def _forget(self, sub: Subscription) -> None:
        assert sub.id is not None
        address, _, number = sub.id.rpartition("/")
        parent = sub.channel == "v4_parent_subaccounts"
        self.normalizer.subs.forget(address, int(number), parent=parent)
        if self.cursors is not None:
            self.cursors.forget(address, int(number), parent=parent)

    @property
    def watching(self) -> int:
        """Subaccount and parent subscriptions watched now."""
        return len(self._watching) if self.dynamic else len(account_subscriptions(self.config))

    async def _take_over(self, subs: list[Subscription]) -> None:
        restored = marked = 0
        height = await self._height_now() if self.cursors is not None else None
        while self.cursors is not None:  # never subscribe without them: that would baseline
            subs = [s for s in subs if s.key in self._watching]  # not given up meanwhile
            if not subs:
                return
            plain, parents = _ids(subs)
            try:
                restored = self.cursors.restore_some(plain, parents)
                if height is not None:  # where a later owner catches up from if this one dies
                    marked = self.cursors.mark(plain, parents, height, self.clock())
                break
            except StateWriteError as exc:  # the store is lost for now: its backoff decides
                log.warning("take-over waits for the state store: %s", exc)
                await asyncio.sleep(RESTORE_RETRY)
        subs = [s for s in subs if s.key in self._watching]  # no REST state for one given up
        pairs = [(s.channel, s.id) for s in subs if s.id is not None]
        found = await self.sync.accounts(pairs, deep=True, origin="takeover")
        subs = [s for s in subs if s.key in self._watching]  # not given up meanwhile
        events = [e for e in found if e.kind != "account"]  # the snapshots bring the values
        log.info(
            "took over %d subscription(s): %d cursor(s) restored, %d marked at height %s, "
            "%d event(s) caught up",
            len(subs),
            restored,
            marked,
            height,
            len(events),
        )
        if events:
            await self._emit(events)
        await self._save_first(subs, events)
        subs = [s for s in subs if s.key in self._watching]  # not given up meanwhile
        now = self.clock()
        for sub in subs:
            self._place(sub, now)
        if self.feed.actions:
            self._act()
        # no second round here: each placed subscription is lapsed, so its snapshot is followed
        # by a REST reconciliation of its account (what happened between this round and it)

    async def _height_now(self) -> int | None:
        """The newest block height seen, else the Indexer's; None if it does not answer."""
        if self.normalizer.last_block is not None:
            return self.normalizer.last_block
        return await self.sync.height()

    async def _save_first(self, subs: list[Subscription], events: list[Event]) -> None:
        """Save the baseline of each account seen for the first time before subscribing it.

        Retried while the store is away (the take-over waits, unsubscribed, as for the
        restore); an account given up meanwhile is dropped from the wait. A store that refuses
        for another reason is logged and the take-over goes on without the baseline.
        """
        skip = _diffed(events)  # saved once the consumer has handled them
        while self.cursors is not None:
            subs = [s for s in subs if s.key in self._watching]
            if not subs:
                return
            plain, parents = _ids(subs)
            try:
                written = self.cursors.save_first(plain, parents, self.clock(), skip=skip)
            except StateWriteError as exc:
                log.warning("take-over waits to save its baseline cursors: %s", exc)
                await asyncio.sleep(RESTORE_RETRY)
                continue
            except StateError as exc:
                log.error("take-over goes on without saving its baseline cursors: %s", exc)
                return
            if written:
                log.info("take-over: %d baseline cursor(s) saved before subscribing", written)
            return

    def _place(self, sub: Subscription, now: float) -> None:
        """Put a taken-over subscription on a connection with room, or open one more.

        It counts as lapsed until its snapshot: the snapshot holds no fills, so what happened
        between the take-over's REST rounds and the subscription (paced behind the others, a
        connection still opening) is found by the reconciliation that follows the snapshot.
        """
        for index, state in sorted(self.feed.conns.items()):
            used = sum(1 for s in state.subs.values() if s.sub.channel == sub.channel)
            if used < self.caps[sub.channel]:
                self.feed.assign(index, sub, now, lapsed_since=now)
                return
        index = max(self.feed.conns, default=-1) + 1
        self.feed.assign(index, sub, now, lapsed_since=now)
        self.feed.assign(index, Subscription("v4_block_height", None, sub.batched), now)
        if self._conn_tasks:  # else the start opens it with the others
            self._start_connection(index)

    # --- connections --------------------------------------------------------------------------
    def _start_connections(self) -> None:
        for index in sorted(self.feed.conns):
            self._start_connection(index)

    def _start_connection(self, index: int) -> None:
        self._pacers[index] = Pacer(self.config.subscribe_rate)
        task = self.tasks.spawn(self._connection(index), f"alertbot-conn-{index}")
        self._conn_tasks[index] = task

    async def _connection(self, index: int) -> None:
        reconnect = self.config.reconnect
        backoff = Backoff(
            reconnect.initial,
            reconnect.max,
            reconnect.multiplier,
            reconnect.stable_after,
            self._rng,
        )
        while not self._stopping:
            code, uptime = await self._connect_once(index)
            backoff.connected_for(uptime)
            if code == 1008:
                backoff.slow_down()
                self._pacers[index].slow_down()
                log.warning("connection %d closed by rate limit (1008): slowing down", index)
            delay = 0.0 if index in self._immediate else backoff.next_delay()
            self._immediate.discard(index)
            await asyncio.sleep(delay)

    async def _connect_once(self, index: int) -> tuple[int | None, float]:
        """One connection's life; returns the close code (None if it never opened) and uptime."""
        sendq: asyncio.Queue[Subscription] = asyncio.Queue()
        self._sendq[index] = sendq
        opened = self.clock()
        code: int | None = None
        reason = ""
        try:
            async with connect(
                self.ws_url,
                max_size=self.config.max_message_size,
                ping_interval=self.config.ping_interval,
                ping_timeout=self.config.ping_timeout,
                open_timeout=self.config.open_timeout,
                close_timeout=CLOSE_TIMEOUT,
                user_agent_header=f"alertbot/{__version__}",
            ) as ws:
                opened = self.clock()
                self._sockets[index] = ws
                await self._read(index, ws, sendq)
        except ConnectionClosed as exc:
            code, reason = (
                (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (1006, "no close frame")
            )
        except FrameFailed as exc:  # closed by us with 1011 (internal error) on the way out
            code, reason = 1011, str(exc)
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            self.feed.attempt_failed(index)
            reason = f"{type(exc).__name__}: {exc}"
            # an unverifiable certificate is a configuration or security problem, not churn
            level = logging.ERROR if isinstance(exc, ssl.SSLCertVerificationError) else logging.INFO
            log.log(level, "connection %d: cannot connect to %s: %s", index, self.ws_url, reason)
        finally:
            self._sockets.pop(index, None)
        if self._stopping:  # our own goodbye: not a loss to report
            return code, 0.0
        now = self.clock()
        events = self.feed.closed(index, now, code, reason)
        if events and self._on_close is not None:
            self._on_close(index, now, code, reason)
        if events:
            log.warning("connection %d lost (code %s %s)", index, code, reason)
            await self._emit(events)
        return code, (now - opened) if events else 0.0

    async def _read(
        self, index: int, ws: ClientConnection, sendq: asyncio.Queue[Subscription]
    ) -> None:
        sender = asyncio.create_task(
            self._sender(index, ws, sendq), name=f"alertbot-subscribe-{index}"
        )
        feed, clock, on_raw, buffer = self.feed, self.clock, self._on_raw, self.buffer
        recv, receive, put = ws.recv, feed.receive, buffer.put
        due = self.normalizer.subs.due  # revaluations the next batch ends with
        try:
            while True:
                raw = await recv(decode=False)
                now = clock()
                try:
                    if on_raw is not None:
                        on_raw(index, now, raw)
                    events = receive(index, raw, now)
                    if feed.actions:
                        self._act()
                except Exception as exc:  # a bug on the per-frame path: this connection restarts
                    raise self._frame_failed(index, raw, exc) from exc
                if events:
                    if put(events):
                        await buffer.room()
                elif due:  # a price moved accounts but no event was emitted: the batch is due
                    buffer.wake()
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    def _frame_failed(self, index: int, raw: bytes, exc: Exception) -> FrameFailed:
        """Log (the frame's shape, never its content) and count; the connection reconnects."""
        self.frame_failures += 1
        self.problems(f"frame that broke the reader ({type(exc).__name__})", frame_shape(raw))
        log.error(
            "connection %d: handling a frame failed (%s); frame shape %s; reconnecting",
            index,
            type(exc).__name__,
            frame_shape(raw),
            exc_info=exc,
        )
        return FrameFailed(f"unexpected {type(exc).__name__} on a frame")

    async def _sender(
        self, index: int, ws: ClientConnection, sendq: asyncio.Queue[Subscription]
    ) -> None:
        """Send subscribes in order, paced so no channel+id ever exceeds 2 per second."""
        pacer = self._pacers[index]
        pacer.reset()
        while True:
            sub = await sendq.get()
            if sub.key in self.feed.dropped:  # given up while it waited its turn
                continue
            delay = pacer.reserve(sub.key, self.clock()) - self.clock()
            if delay > 0:
                await asyncio.sleep(delay)
                if sub.key in self.feed.dropped:  # given up while it waited for its slot
                    continue
            await ws.send(sub.subscribe_message().decode())
            self.feed.sent(index, sub)

    # --- actions from the feed ----------------------------------------------------------------
    def _act(self) -> None:
        actions, self.feed.actions = self.feed.actions, []
        for action in actions:
            if action.kind == "subscribe" and action.sub is not None:
                queue = self._sendq.get(action.conn)
                if queue is not None:
                    queue.put_nowait(action.sub)
            elif action.kind in ("reconnect", "resync"):
                self._restart(action)
            elif action.kind == "move" and action.sub is not None:
                self._move(action)
            elif action.kind == "slow_down":
                self._pacers[action.conn].slow_down()
            elif action.kind == "reconcile":
                self._spawn(
                    self._reconcile_conn(action.conn, action.sub),
                    f"alertbot-reconcile-{action.conn}",
                )

    def _restart(self, action: Action) -> None:
        ws = self._sockets.get(action.conn)
        log.warning("connection %d: reconnecting (%s)", action.conn, action.reason)
        self._immediate.add(action.conn)
        if ws is not None:
            self._spawn(ws.close(4000, action.reason[:120]), f"alertbot-close-{action.conn}")

    def _move(self, action: Action) -> None:
        """The server refused a subscription over its cap: carry it on another connection."""
        assert action.sub is not None
        channel = action.sub.channel
        with contextlib.suppress(ValueError):
            self.caps[channel] = min(self.caps[channel], int(action.reason))
        self.feed.unassign(action.conn, action.sub.key)
        now = self.clock()
        for index, state in sorted(self.feed.conns.items()):
            used = sum(1 for s in state.subs.values() if s.sub.channel == channel)
            if index != action.conn and used < self.caps[channel]:
                self.feed.assign(index, action.sub, now, lapsed_since=now)
                log.info("moved %s to connection %d", action.sub.key, index)
                return
        index = max(self.feed.conns) + 1
        self.feed.assign(index, action.sub, now, lapsed_since=now)
        self.feed.assign(index, Subscription("v4_block_height", None, action.sub.batched), now)
        log.info(
            "opening connection %d for %s (server cap %s)",
            index,
            action.sub.key,
            self.caps[channel],
        )
        self._start_connection(index)

    # --- timers, polling, reconciliation ------------------------------------------------------
    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self._tick)
            now = self.clock()
            events = self.feed.check(now)
            if self.feed.actions:
                self._act()
            if self._conn_tasks:  # not while the start's catch-up round runs
                events += self._update_polling(now)
            if events:
                await self._emit(events)
            if now >= self._next_save:  # the accounts of what was just emitted wait
                self._next_save = now + CURSOR_SAVE
                self._save_cursors()

    def _update_polling(self, now: float) -> list[Event]:
        """Poll REST while a socket is down, or a subscription is unwatched on a live one."""
        down = max(self.feed.down_for(now).values(), default=0.0)
        lapsed = max(self.feed.lapsed_for(now).values(), default=0.0)
        worst = max(down, lapsed)
        polling = self.config.polling
        should = polling.enabled and worst >= polling.after
        if should == self.polling or self._scheduler is None:
            return []
        self.polling = should
        why = "socket down" if down >= polling.after else "subscription unwatched"
        if should:  # the first round now, then every interval until the socket is back
            self._scheduler.add_job(
                self._poll,
                "interval",
                seconds=polling.interval,
                id="source-poll",
                coalesce=True,
                max_instances=1,
                next_run_time=datetime.now(UTC),
                replace_existing=True,
            )
            log.warning(
                "%s for %s: polling REST every %s",
                why,
                format_duration(worst),
                format_duration(polling.interval),
            )
        else:
            self._scheduler.remove_job("source-poll")
            log.info("everything watched again: polling stopped")
            why = "socket back"
        data = {"active": should, "down_for": worst, "reason": why}
        return [Event("source.polling", now, data)]

    async def _poll(self) -> None:
        """One polling round for what the down connections carry and the unwatched accounts."""
        now = self.clock()
        down = self.feed.down_for(now)
        lapsed = [self.feed.conn(i).subs.get(key) for i, key in self.feed.lapsed_for(now)]
        subs = dict.fromkeys(self._account_subs(down))
        for state in lapsed:
            if state and state.sub.channel in ACCOUNT_CHANNELS and state.sub.id is not None:
                subs[(state.sub.channel, state.sub.id)] = None
        events = await self.sync.accounts(list(subs), deep=True, origin="poll")
        market_wide = ("v4_markets", "v4_block_height")
        if any(self._carries(i, c) for i in down for c in market_wide) or any(
            s is not None and s.sub.channel in market_wide for s in lapsed
        ):
            events += await self.sync.markets_and_height()
        if events:
            await self._emit(events)

    async def _reconcile_conn(self, index: int, sub: Subscription | None = None) -> None:
        """After a reconnect or a resubscribe: what happened meanwhile (fills, cancels), by REST."""
        await asyncio.sleep(self.config.reconcile_delay)
        subs = [(sub.channel, sub.id)] if sub and sub.id else self._account_subs([index])
        events = await self.sync.accounts(subs, deep=True)
        if events:
            await self._emit(events)

    async def _reconcile_all(self) -> None:
        events = await self.sync.accounts(self._account_subs(self.feed.conns), deep=False)
        if events:
            await self._emit(events)

    def _account_subs(self, conns: Any) -> list[tuple[str, str]]:
        return [
            (s.sub.channel, s.sub.id)
            for i in conns
            for s in self.feed.conn(i).subs.values()
            if s.sub.channel in ACCOUNT_CHANNELS and s.sub.id is not None
        ]

    def sizes(self) -> dict[str, int]:
        """Entries of the source's maps keyed by server data, for /metrics."""
        return {**self.feed.normalizer.sizes(), **self.feed.sizes()}

    def _carries(self, index: int, channel: str) -> bool:
        return any(s.sub.channel == channel for s in self.feed.conn(index).subs.values())

    def _spawn(self, coro: Any, name: str) -> None:
        self.tasks.spawn(coro, name)


def _ids(subs: list[Subscription]) -> tuple[list[str], list[str]]:
    """The subaccount ids and the parent ids ("address/number") of account subscriptions."""
    plain = [s.id for s in subs if s.channel == "v4_subaccounts" and s.id is not None]
    parents = [s.id for s in subs if s.channel != "v4_subaccounts" and s.id is not None]
    return plain, parents


def _diffed(events: Iterable[Event]) -> set[tuple[str, int]]:
    """The subaccounts of these events of kinds a cursor reflects (fills, orders, ...)."""
    found: set[tuple[str, int]] = set()
    for event in filter(is_catchup, events):
        address, number = event.data.get("address"), event.data.get("subaccount")
        if isinstance(address, str) and isinstance(number, int):
            found.add((address, number))
    return found
