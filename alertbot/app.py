"""`alertbot run`: lifecycle only (build, start, run, stop); owns every task."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import httpx
from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from alertbot import __version__
from alertbot.cluster.assign import AccountShards
from alertbot.cluster.coordinator import Coordinator
from alertbot.cluster.fence import Fence
from alertbot.cluster.leases import LeaseStore
from alertbot.cluster.localstate import local_scope, mine, own, qualified
from alertbot.config import Config
from alertbot.core.model import Notification
from alertbot.core.scope import LOCAL, MARKET
from alertbot.core.tasks import TaskFailed
from alertbot.jobs import (
    DIGEST_RULE,
    PUBLISH_EVERY,
    digest,
    heartbeat,
    merged,
    publication,
    published_name,
)
from alertbot.notifier_setup import build_notifiers
from alertbot.notify.acks import AckBook
from alertbot.notify.base import Notifier
from alertbot.notify.builtin.console import ConsoleNotifier
from alertbot.notify.delivery import Delivery
from alertbot.plugins import Plugins, make_plugin_manager, plugins_path
from alertbot.reload import Reloaded, commit, content_hash, failure_notice, prepare
from alertbot.rules.config import RuleConfig, expand_kinds, reads_risk
from alertbot.rules.engine import Engine
from alertbot.rules.runtime import RuleStats
from alertbot.rules.silences import KEEP_EXPIRED, SilenceStore
from alertbot.source.client import IndexerSource
from alertbot.state import StateError, StateStore, StateWriteError, open_state
from alertbot.state.api import StateChanges
from alertbot.web.actions import Controls
from alertbot.web.auth import Auth
from alertbot.web.board import Board, Parts
from alertbot.web.dashboard import Dashboard
from alertbot.web.health import health
from alertbot.web.hub import Hub
from alertbot.web.server import WebServer
from alertbot.web.snapshot import ConnInfo, LatencyRecorder, Snapshot

log = logging.getLogger("alertbot")
TICK = 0.5  # engine timers (for, absence, repeat, group flushes) resolve to this
WATCH = 2.0  # how often the config file is checked for changes
EXIT_FORCED = 130
RELOAD_TIMEOUT = 10.0  # validating a new config longer than this refuses it
DIGEST_CURSOR = "digest"  # when the last digest was sent (a cluster's leader continues from it)
STATE_CHECK = 2.0  # how often the state database file is checked for deletion or replacement
QUIESCE_TIMEOUT = 2.0  # at stop, the engine gets this long to take the events already received


class App:
    """One process: source -> engine -> outbox -> notifiers, plus the scheduler driving time.

    Start order: plugins, notifiers, state (alert state restored), delivery, source. Stop order
    is the reverse: the source first, then delivery drains what it can in time (the rest stays
    in the outbox for the next start), the engine state is saved, notifiers and plugins close.
    """

    def __init__(
        self,
        config: Config,
        *,
        config_path: str | os.PathLike[str] = "rules.yaml",
        out: IO[str] | None = None,
        clock: Callable[[], float] = time.time,
        env: dict[str, str] | None = None,
        reset_state: bool = False,
    ) -> None:
        self.config = config
        self.reset_state = reset_state  # `run --reset-state`: move the old database aside
        self.config_path = Path(config_path)
        self.out = out  # console notifiers print here (None: their configured stream)
        self.clock = clock
        self.env = env
        self.silences = SilenceStore()  # loaded from the state store in run()
        self.engine = Engine(config, silences=self.silences)
        self.notifications = 0
        self._stop = asyncio.Event()
        self._plugins: Plugins | None = None
        self._delivery: Delivery | None = None
        self._state: StateStore | None = None
        self._silences_seen = -1  # the store's silences version last loaded
        self._env = dict(os.environ) if env is None else {**os.environ, **env}
        self._config_seen = content_hash(self.config_path)
        self._refused = ""  # content hash of the last file version a reload refused
        self.http = config.http
        self.started_at = clock()
        self.events: Counter[str] = Counter()
        self.alerts: Counter[tuple[str, str]] = Counter()
        self.latency = LatencyRecorder()
        self._source: IndexerSource | None = None
        self.web: WebServer | None = None
        self.acks: AckBook | None = None  # acknowledged alerts (loaded in run())
        self.board: Board | None = None  # the dashboard's own bookkeeping (when it is on)
        self.hub: Hub | None = None  # pages connected to the dashboard (when it is on)
        self.ready = asyncio.Event()  # set once everything started (tests, embedding programs)
        self.job_failures = 0
        self._reloading = asyncio.Lock()  # one reload at a time (SIGHUP and the file watch)
        self._reload_tasks: set[asyncio.Task[bool]] = set()
        self.coordinator: Coordinator | None = None  # with a `cluster:` section
        self.fence: Fence | None = None
        self._adopt_queued = False

    def stop(self) -> None:
        """Ask the app to stop (SIGINT/SIGTERM); a second request forces the exit at once.

        Forcing loses nothing either: every accepted notification is already in the outbox and
        is sent at the next start.
        """
        if self._stop.is_set():
            log.warning("second stop signal: exiting now; pending deliveries stay in the outbox")
            os._exit(EXIT_FORCED)
        log.info("stopping: source, then delivery (draining), then state")
        self._stop.set()

    async def reload(self) -> bool:
        """Re-read the config (SIGHUP or a file change); keep the old rules if it is invalid.

        Validation runs in a worker thread, bounded by RELOAD_TIMEOUT: the event loop keeps
        evaluating events with the old rules meanwhile, whatever the file holds.
        """
        async with self._reloading:
            seen = self._config_seen = content_hash(self.config_path)
            work = asyncio.to_thread(prepare, self.config_path, self.silences, self._env)
            try:
                prepared = await asyncio.wait_for(work, RELOAD_TIMEOUT)
            except TimeoutError:
                late = f"validating {self.config_path} took longer than {RELOAD_TIMEOUT:g}s"
                prepared = Reloaded(None, None, [late], [])
            result = commit(prepared, self.config, self.engine)
            return self._reloaded(result, seen)

    def _reloaded(self, result: Reloaded, seen: str) -> bool:
        if result.config is None or result.engine is None:
            for problem in result.problems:
                log.error("reload refused: %s", problem)
            if seen != self._refused:  # one alert per broken version of the file, not per try
                self._refused = seen
                notify = tuple(self.config.defaults.notify or self.config.notifiers)
                notice = failure_notice(self.config_path, result.problems, notify, self.clock())
                self.deliver([notice])
            return False
        self._refused = ""
        self.config, self.engine = result.config, result.engine
        if self._source is not None:  # a reloaded rule on risk kinds gets them at once
            self._source.normalizer.risk = reads_risk(self.config.rules)
            self._source.normalizer.wanted = self._kinds_read()  # and any other kind it reads
        if result.restart_needed:
            later = ", ".join(result.restart_needed)
            log.warning("changed sections apply at the next restart: %s", later)
        log.info("reloaded %s: %d rules", self.config_path, len(self.engine.rules))
        return True

    def _reload_soon(self) -> None:
        """SIGHUP: reload in a task of its own (a signal handler cannot await)."""
        task = asyncio.create_task(self.reload(), name="alertbot-reload")
        self._reload_tasks.add(task)
        task.add_done_callback(self._reload_tasks.discard)

    async def _watch_file(self) -> None:
        """A scheduler job: reload when the file's content changed (editors, ConfigMap updates)."""
        if content_hash(self.config_path) != self._config_seen:
            await self.reload()

    async def run(self) -> None:
        """Run until stop() or a signal; start-up errors raise before anything runs.

        A supervised task that fails raises TaskFailed here, after the same ordered stop as a
        signal: the source, then delivery (drained, bounded), then state, notifiers, plugins.
        """
        env = self._env
        plugins = make_plugin_manager(
            plugins_path(self.config_path, self.config.plugins_dir), env=env
        )
        notifiers = build_notifiers(self.config, plugins)
        self._route_console(notifiers.values())
        db = self._state = open_state(
            self.config.state_dir,
            synchronous=self.config.delivery.synchronous,
            reset=self.reset_state,
            config=self.config.state,
            exclusive="starting another",
        )
        try:
            hold = self.config.state.buffer
            delivery = Delivery(db, notifiers, self.config.delivery, clock=self.clock, hold=hold)
            self._sync_silences()
            if self._restore(db):
                log.info("alert state restored from %s", self.config.state_dir)
            self._plugins, self._delivery = plugins, delivery
            self.acks = AckBook(db.acks)
            web = self.web = self._web_server(db) if self.http.enabled else None
            if web is not None:
                await web.start()  # a port in use stops the start here, nothing running yet
                if self.hub is not None:
                    log.info("dashboard on %s (log in with http.token)", self.dashboard_url)
            await plugins.startup(self.config)
            await delivery.start()
            try:
                await self._watch()
            finally:
                await delivery.stop()
                delivery.submit_many((), changes=self.engine.drain_state())
                if web is not None:
                    await web.stop()
        finally:
            for notifier in notifiers.values():
                await notifier.close()
            await plugins.shutdown()
            db.close()

    def _restore(self, db: StateStore) -> int:
        """The saved rule state; in a cluster only this replica's own (the rest comes with
        the leases: `_adopt`)."""
        if self.config.cluster is None:
            return self.engine.restore(db.rules.load())
        replica = self.config.cluster.replica
        rows = mine(db.rules.load_scopes([local_scope(replica)], ()), replica)
        return self.engine.adopt(rows, lambda scope: scope == LOCAL)

    def _web_server(self, db: StateStore) -> WebServer:
        """/healthz and /metrics, plus the dashboard when it is on and has a token."""
        token = self.http.token
        if not self.http.dashboard or token is None:
            if self.http.dashboard:
                log.warning("http.dashboard needs http.token: serving /healthz and /metrics only")
            return WebServer(self.http, self.snapshot)
        self.board = Board(db, self.http.equity_history)
        hub = self.hub = Hub(self._board_state)
        auth = Auth(token.get_secret_value(), self.clock)
        dashboard = Dashboard(auth, hub, Controls(self._parts, hub.changed))
        return WebServer(self.http, self.snapshot, routes=dashboard.routes())

    @property
    def dashboard_url(self) -> str:
        """Where the dashboard is served ("" when it is off or not listening yet)."""
        if self.hub is None or self.web is None or not self.web.listening:
            return ""
        host = self.http.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.web.port}/"

    def _parts(self) -> Parts:
        """The running app as the dashboard reads it."""
        assert self._state is not None, "read while running"
        assert self.acks is not None, "read while running"
        return Parts(
            now=self.clock(), started_at=self.started_at, version=__version__,
            source=self._source, engine=self.engine, state=self._state,
            delivery=self._delivery, silences=self.silences, acks=self.acks,
            events=self.events,
        )  # fmt: skip

    def _board_state(self, full: bool) -> dict[str, Any]:
        assert self.board is not None, "the hub exists only with a board"
        return self.board.build(self._parts(), full=full)

    def _route_console(self, notifiers: Iterable[Notifier]) -> None:
        if self.out is None:
            return
        for notifier in notifiers:
            if isinstance(notifier, ConsoleNotifier):
                notifier.out = self.out

    async def _watch(self) -> None:
        """Signals and jobs around the supervised tasks; a crash propagates after they stop."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, self._reload_soon)
        scheduler = AsyncIOScheduler(event_loop=loop)
        scheduler.add_job(
            self._watch_file, "interval", seconds=WATCH, id="config-watch", coalesce=True
        )
        self._add_jobs(scheduler)
        scheduler.add_listener(self._job_failed, EVENT_JOB_ERROR)
        scheduler.start()
        self._start_cluster()
        try:
            source = self._source = IndexerSource(
                self.config.source,
                scheduler=scheduler,
                env=self.env,
                state=self._state,
                keep=self.fence.keep if self.fence is not None else None,
            )
            source.normalizer.wanted = self._kinds_read()  # no events nobody reads
            async with source:
                source.normalizer.risk = reads_risk(self.config.rules)  # else skip the math
                self._log_watching(source)
                self.ready.set()
                await self._supervise(source)
        finally:
            if self.coordinator is not None:  # after the source saved its cursors
                self._commit(())  # the rule state, while the leases still let it be written
                await self.coordinator.leave()
            scheduler.shutdown(wait=False)
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)

    def _kinds_read(self) -> frozenset[str]:
        """What the source must build: the kinds the rules read, fills for the dashboard, and
        `account` always (its count in /metrics is the sign a watched account's data flows)."""
        return kinds_read(self.config.rules, dashboard=self.board is not None) | {"account"}

    def _start_cluster(self) -> None:
        """A `cluster:` section: leases decide which subaccounts this replica watches."""
        cluster = self.config.cluster
        if cluster is None:
            return
        cfg = self.config.source
        accounts = AccountShards(
            cluster.shards, [r.id for r in cfg.subaccounts], [r.id for r in cfg.parent_subaccounts]
        )
        store = LeaseStore(self.config.state.dsn_text)
        coordinator = self.coordinator = Coordinator(
            cluster, store, self._shards_changed, clock=self.clock, on_leader=self._leader_changed
        )
        self.fence = Fence(accounts, coordinator, self.clock)
        if self._delivery is not None:
            self._delivery.shape_state = self._shape_state
        log.info(
            "replica %s of a cluster: %d shard(s), lease ttl %gs",
            coordinator.replica,
            cluster.shards,
            cluster.lease_ttl,
        )

    def _shape_state(self, changes: StateChanges) -> StateChanges:
        """A cluster's rule-state writes: none past the fence, local rows under this replica.

        But one: a one-off occurrence this replica told (its notification is delivered even if
        held through a database cut) is still recorded past the fence where its identity has
        no row, so the next owner's catch-up does not tell it again; it never overwrites.
        """
        fence, coordinator = self.fence, self.coordinator
        if fence is None or coordinator is None:
            return changes
        now = self.clock()
        kept = []
        for row in changes.rules:
            if qualified(row.scope) or fence.holds(row.scope, now):
                kept.append(row)
            elif self.engine.told(row):
                kept.append(dataclasses.replace(row, only_new=True))
        return own(StateChanges(tuple(kept), changes.history), coordinator.replica)

    def _shards_changed(self, gained: set[int], lost: set[int]) -> None:
        """The coordinator's news: lost accounts are dropped (source and rule state), gained
        ones get the previous owner's rule state, then are taken over (catch-up first)."""
        source, fence = self._source, self.fence
        if source is None or fence is None or not self.ready.is_set():
            return
        if lost:
            fence.pending -= lost
            self.engine.forget(lambda scope: fence.shard_of(scope) in lost)
            source.unwatch(*fence.accounts.members(lost))
        if gained:
            fence.pending |= gained  # their events wait for their rule state (`_adopt`)
            self._adopt_soon()

    def _leader_changed(self, leads: bool) -> None:
        """Market-wide rules' state moves with the leader lease."""
        if self.fence is None or not self.ready.is_set():
            return
        self.fence.adopting = leads  # no market event reaches the rules before their state
        if leads:
            self._adopt_soon()
        else:
            self.engine.forget(lambda scope: scope == MARKET)

    def _adopt_soon(self) -> None:
        """One load for shards and the leader gained in the same round."""
        if not self._adopt_queued:
            self._adopt_queued = True
            asyncio.get_running_loop().call_soon(self._adopt)

    def _adopt(self) -> None:
        """Load the saved rule state of gained shards (and the leader's), then watch them.

        Before the source is told: the catch-up events of those accounts must find the state
        (a pending `for`, remembered fill ids, whether a firing was told). With the database
        unreachable it is retried at every tick; the accounts are not watched meanwhile.
        """
        self._adopt_queued = False
        fence, source, db = self.fence, self._source, self._state
        if fence is None or source is None or db is None:
            return
        shards, leader = set(fence.pending), fence.adopting
        if not shards and not leader:
            return
        plain, parents = fence.accounts.members(shards)
        scopes = [*plain, MARKET] if leader else plain
        if self._delivery is not None:  # this replica's held rows first (told fill ids of a
            self._delivery.flush()  # shard lost in a cut and regained): the load finds them
        try:
            rows = db.rules.load_scopes(scopes, {key.rpartition("/")[0] for key in parents})
        except StateWriteError as exc:
            log.warning("rule state of gained shards not loaded yet (%s); retrying", exc)
            return
        fence.pending -= shards
        fence.adopting = False
        taken = self.engine.adopt(
            rows, lambda scope: fence.shard_of(scope) in shards or (leader and scope == MARKET)
        )
        log.info("took over the rule state of %d identit(ies) of %d row(s)", taken, len(rows))
        if shards:
            source.watch(plain, parents)

    def _log_watching(self, source: IndexerSource) -> None:
        """Say where it connects, what it watches and where its state lives (INFO, once)."""
        cfg = self.config.source
        log.info("connecting to %s (REST %s)", source.ws_url, source.rest_url)
        shared = " (shared by the cluster: this replica watches its shards)" if self.fence else ""
        log.info(
            "watching %s, %s and %s over %d connection(s); %d rule(s)%s",
            _listing("subaccount", [str(s) for s in cfg.subaccounts]),
            _listing("parent subaccount", [str(s) for s in cfg.parent_subaccounts]),
            _listing("market", cfg.markets),
            source.connections,
            len(self.engine.rules),
            shared,
        )
        if self._state is not None and self.config.state.backend == "postgresql":
            log.info("state in %s", self._state.path)  # the masked dsn
        else:
            log.info("state in %s", Path(self.config.state_dir).resolve())

    async def _supervise(self, source: IndexerSource) -> None:
        """Run the engine, its clock and the watch on every part's tasks in one TaskGroup.

        stop() ends the group cleanly; the first task to fail cancels the others and is raised
        as TaskFailed (the caller then stops the rest in order: source, delivery, state).
        """
        assert self._delivery is not None, "started by run()"
        parts: dict[str, Coroutine[Any, Any, None]] = {
            "engine": self._consume(source),
            "engine-clock": self._clock_loop(),
            "source": source.tasks.failure(),
            "delivery": self._delivery.tasks.failure(),
            "state": self._watch_state(),
            "web": self.web.tasks.failure() if self.web is not None else _forever(),
            "dashboard": self.hub.run() if self.hub is not None else _forever(),
            "stop": self._until_stopped(),
        }
        if self.coordinator is not None:
            parts["cluster"] = self._run_cluster(source)
        try:
            async with asyncio.TaskGroup() as group:
                for name, coro in parts.items():
                    group.create_task(_supervised(name, coro), name=f"alertbot-{name}")
        except BaseExceptionGroup as caught:
            _, failures = caught.split(_Stopped)
            if failures is not None:
                raise _first(failures) from None

    async def _run_cluster(self, source: IndexerSource) -> None:
        """Leases, rounds and the fence; the source (started) learns of each change."""
        assert self.coordinator is not None
        await self.coordinator.run()

    async def _watch_state(self) -> None:
        """Stop (exit 1) when the state database is deleted or replaced under the bot.

        Writing on into an unlinked file would lose every pending alert at the next start.
        """
        while True:
            await asyncio.sleep(STATE_CHECK)
            lost = self._state.intact() if self._state is not None else None
            if lost is not None:
                raise StateError(f"{lost}; stopping so nothing more is accepted unsaved")

    async def _until_stopped(self) -> None:
        await self._stop.wait()
        if self._source is not None:  # what it already received reaches the engine first
            await self._source.quiesce(QUIESCE_TIMEOUT)
        raise _Stopped

    async def _clock_loop(self) -> None:
        """Engine time: `for`, absence, windows, repeat and group flushes resolve to TICK."""
        while True:
            await asyncio.sleep(TICK)
            self._tick()

    def _job_failed(self, event: JobExecutionEvent) -> None:
        """A scheduled job (digest, heartbeat, config watch) failed: one line; it runs again."""
        self.job_failures += 1
        log.error("job %s failed: %r (it runs again on schedule)", event.job_id, event.exception)

    async def _consume(self, source: IndexerSource) -> None:
        """The engine: every event in arrival order; what it decides goes to delivery.

        Each batch ends with one transaction holding its notifications and every rule state
        it changed (matches waiting in a group, `for` timers, repeat schedules, windows), all
        before the next batch is taken: what the engine accepted survives a SIGKILL.
        """
        events, fence, clock = self.events, self.fence, self.clock
        board, hub = self.board, self.hub
        async for batch in source.batches():
            if self._delivery is not None:  # held notifications fill state.buffer (a lost
                await self._delivery.room()  # database): this batch waits, the socket too
            notes: list[Notification] = []
            process = self.engine.process  # per batch: a reload may have swapped the engine
            now = clock() if fence is not None else 0.0
            if fence is not None:  # a lapsed lease is forgotten before timers run again
                fence.coordinator.sync(now)
            for event in batch:
                if fence is not None and not fence.allows(event, now):
                    continue  # another replica owns it (or will, after its catch-up)
                events[event.kind] += 1
                found = process(event, event.at)
                if found:
                    notes += found
                    if not event.data.get("catchup"):  # its `at` is when it really happened
                        self.latency.observe(max(0.0, self.clock() - event.at))
            self._commit(notes)
            if hub is not None and board is not None:
                board.observe(batch)
                hub.changed()

    def _tick(self) -> None:
        """Let engine time pass; due notifications and changed rule state go to delivery."""
        self._sync_silences()  # `alertbot silence add` writes the same store
        now = self.clock()
        if self.coordinator is not None:
            self.coordinator.sync(now)  # a lapsed lease's timers stop before they run
            self._adopt()  # what could not be loaded yet (the database was unreachable)
        self._commit(self.engine.tick(now))
        if self.acks is not None and self.acks.by_fingerprint:
            self.acks.keep_only(a.fingerprint for a in self.engine.active_alerts()
                                if a.state == "firing")  # fmt: skip
        if self.board is not None and self.hub is not None:
            source = self._source
            if source is not None:
                self.board.sample(lambda: source.normalizer.account_views(now), now)
            self.hub.changed()  # ages and timers move on the page too

    def _commit(self, notes: Sequence[Notification]) -> None:
        """Notifications and the rule state that changed, in one transaction (none if neither)."""
        if notes:
            self.deliver(notes)
        elif self._delivery is not None:
            changes = self.engine.drain_state()  # what events changed without notifying
            if changes:
                self._delivery.submit_many((), changes=changes)

    def _sync_silences(self) -> None:
        """Reload silences when another process (or a purge) changed them."""
        if self._state is None:
            return
        try:
            seen = self._state.silences.version()
        except StateWriteError:  # the database is unreachable for now: the next tick asks again
            return
        if seen != self._silences_seen:
            self.silences.replace(self._state.silences.all())
            self._silences_seen = seen

    def deliver(self, notes: Sequence[Notification]) -> None:
        """Enrich once (so retries send the same text), then hand to the durable outbox."""
        assert self._plugins is not None, "deliver() is only called while running"
        assert self._delivery is not None, "deliver() is only called while running"
        if self.acks is not None:
            notes = self.acks.filter(notes)  # acknowledged reminders are not sent
        enriched = [self._plugins.enrich(note) for note in notes]
        self._delivery.submit_many(enriched, changes=self.engine.drain_state())
        self.notifications += len(enriched)
        for note in enriched:
            self.alerts[(note.rule, note.status)] += 1

    # --- scheduled jobs and status --------------------------------------------------------
    def _add_jobs(self, scheduler: AsyncIOScheduler) -> None:
        jobs = self.config.jobs
        if jobs.digest is not None:
            every = jobs.digest.every
            scheduler.add_job(self._digest, "interval", seconds=every, id="digest")
            if self.coordinator is not None:
                scheduler.add_job(
                    self._publish_accounts, "interval", seconds=PUBLISH_EVERY, id="accounts"
                )
        if jobs.heartbeat is not None:
            every = jobs.heartbeat.every
            scheduler.add_job(self._heartbeat, "interval", seconds=every, id="heartbeat")
        scheduler.add_job(self._prune, "interval", seconds=jobs.prune_every, id="prune")

    async def _digest(self) -> None:
        """Equity and PnL per account, and what was told since the last digest (saved, shared).

        In a cluster only the leader sends it, listing every replica's accounts (jobs.py).
        """
        config, source, state = self.config.jobs.digest, self._source, self._state
        if config is None or source is None or state is None:
            return
        now = self.clock()
        if self.coordinator is not None and not self.coordinator.leading(now):
            return
        saved = state.cursors.get(DIGEST_CURSOR)
        since = float(saved["at"]) if isinstance(saved, dict) else self.started_at
        if self.coordinator is not None and saved is not None and now - since < config.every / 2:
            return  # a new leader whose schedule runs soon after the old one's last digest
        told = {k: n for k, n in state.outbox.told(since, now).items() if k[0] != DIGEST_RULE}
        accounts = await self._digest_accounts(source, now)
        notify = tuple(config.notify or self.config.defaults.notify or self.config.notifiers)
        self.deliver([digest(accounts, told, since, now, notify, config.severity)])
        state.cursors.put(DIGEST_CURSOR, {"at": now}, now)

    async def _digest_accounts(self, source: IndexerSource, now: float) -> list[dict[str, Any]]:
        """The accounts a digest lists: this replica's, and in a cluster the others' published."""
        views = source.normalizer.account_views(now)
        coordinator, fence, state = self.coordinator, self.fence, self._state
        if coordinator is None or fence is None or state is None:
            return views
        own = fence.mine(views)
        live = [r.replica for r in await coordinator.store.replicas() if r.expires_at > now]
        return merged(own, (state.cursors.get(published_name(r)) for r in live), now)

    async def _publish_accounts(self) -> None:
        """Put this replica's accounts where the leader's digest reads them (cluster only)."""
        source, fence, state = self._source, self.fence, self._state
        if source is None or fence is None or state is None or self.coordinator is None:
            return
        now = self.clock()
        own = fence.mine(source.normalizer.account_views(now))
        state.cursors.put(published_name(self.coordinator.replica), publication(own, now), now)

    async def _heartbeat(self) -> None:
        """Ping the dead man's switch while healthy (so the switch fires when alertbot is not)."""
        config = self.config.jobs.heartbeat
        if config is None:
            return
        code, _body = health(self.snapshot(), self.http.unhealthy_after)
        async with httpx.AsyncClient() as client:
            await heartbeat(client, config, code == 200)

    async def _prune(self) -> None:
        """Forget silences that expired long ago (the outbox prunes itself on writes)."""
        if self._state is not None:
            self._state.silences.purge(self.clock() - KEEP_EXPIRED)

    def snapshot(self) -> Snapshot:
        """What /healthz and /metrics show, built at request time from existing counters."""
        source, delivery = self._source, self._delivery
        conns = [ConnInfo.from_state(c) for c in source.feed.conns.values()] if source else []
        status = delivery.status() if delivery is not None else {}
        lanes = status.get("notifiers", {})
        deliveries = {
            (name, result): int(lane[result])
            for name, lane in lanes.items()
            for result in ("sent", "failed", "dead")
        }
        depth = int(status.get("outbox_depth", 0))
        return Snapshot(
            now=self.clock(),
            started_at=self.started_at,
            version=__version__,
            connections=conns,
            polling=bool(source and source.polling),
            messages=source.feed.messages if source else {},
            events=dict(self.events),
            alerts=dict(self.alerts),
            deliveries=deliveries,
            outbox_depth=depth,
            outbox_oldest_age=status.get("oldest_pending_age") if depth else None,
            reconnects=self.events["connection.reconnect"],
            gaps=self.events["connection.gap"],
            latency=self.latency.snapshot(),
            problems=source.problems.total if source else 0,
            job_failures=self.job_failures,
            rule_failures=_rule_failures(self.engine.stats),
            rules_disabled=len(self.engine.disabled),
            problem_reasons=len(source.problems.counts) if source else 0,
            unsaved=int(status.get("spilled", 0)),
            unwritable=str(status.get("unwritable", "")),
            paused=bool(status.get("paused", False)),
            cluster=self.coordinator.view(self.clock()) if self.coordinator else None,
            tracked={**(source.sizes() if source else {}), **self.engine.sizes()},
        )


class _Stopped(Exception):
    """Raised by the stop task to end the TaskGroup cleanly."""


def kinds_read(rules: Iterable[RuleConfig], *, dashboard: bool = False) -> frozenset[str]:
    """Every kind an enabled rule is on or resolves on (the engine reads nothing else), plus
    `fill` when the dashboard lists fills. The source builds no event of any other data kind."""
    kinds = {
        kind
        for rule in rules
        if rule.enabled
        for kind in expand_kinds((*rule.on, *(rule.resolve_on or ())))
    }
    if dashboard:
        kinds.add("fill")
    return frozenset(kinds)


async def _supervised(name: str, coro: Coroutine[Any, Any, None]) -> None:
    """Run one part; any exception (or an end, for parts that run forever) is a TaskFailed."""
    try:
        await coro
    except (_Stopped, TaskFailed):
        raise
    except Exception as exc:
        raise TaskFailed(name, exc) from exc
    raise TaskFailed(name, RuntimeError("ended unexpectedly"))


async def _forever() -> None:
    """The stand-in for a part that is off (nothing to watch)."""
    await asyncio.Event().wait()


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf of a (possibly nested) exception group."""
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


def _listing(what: str, items: list[str], shown: int = 5) -> str:
    """`2 markets (BTC-USD, ETH-USD)`; long lists end with `+N more`."""
    if not items:
        return f"no {what}s"
    head = ", ".join(items[:shown]) + (
        f", +{len(items) - shown} more" if len(items) > shown else ""
    )
    return f"{len(items)} {what}{'s' if len(items) != 1 else ''} ({head})"


def _rule_failures(stats: Mapping[str, RuleStats]) -> dict[tuple[str, str], int]:
    """(rule, reason) -> failed evaluations, for /metrics (zero counts left out)."""
    out: dict[tuple[str, str], int] = {}
    for rule, s in stats.items():
        for reason, count in (
            ("missing_field", s.missing_field),
            ("error", s.errors),
            ("over_budget", s.over_budget),
        ):
            if count:
                out[(rule, reason)] = count
    return out
