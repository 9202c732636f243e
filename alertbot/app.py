"""`alertbot run`: lifecycle only (build, start, run, stop); owns every task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from alertbot import __version__
from alertbot.config import Config
from alertbot.core.model import Notification
from alertbot.jobs import digest, heartbeat
from alertbot.notifier_setup import build_notifiers
from alertbot.notify.base import Notifier
from alertbot.notify.builtin.console import ConsoleNotifier
from alertbot.notify.delivery import Delivery
from alertbot.notify.outbox import Outbox
from alertbot.plugins import Plugins, make_plugin_manager, plugins_path
from alertbot.reload import failure_notice, fingerprint, reload
from alertbot.rules.engine import Engine
from alertbot.rules.silences import SilenceStore
from alertbot.source.client import IndexerSource
from alertbot.state.db import StateDB
from alertbot.web.health import health
from alertbot.web.server import WebServer
from alertbot.web.snapshot import ConnInfo, LatencyRecorder, Snapshot

log = logging.getLogger("alertbot")
TICK = 0.5  # engine timers (for, absence, repeat, group flushes) resolve to this
WATCH = 2.0  # how often the config file is checked for changes
EXIT_FORCED = 130


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
    ) -> None:
        self.config = config
        self.config_path = Path(config_path)
        self.out = out  # console notifiers print here (None: their configured stream)
        self.clock = clock
        self.env = env
        self.silences = SilenceStore.open(Path(config.state_dir))
        self.engine = Engine(config, silences=self.silences)
        self.notifications = 0
        self._stop = asyncio.Event()
        self._plugins: Plugins | None = None
        self._delivery: Delivery | None = None
        self._env = dict(os.environ) if env is None else {**os.environ, **env}
        self._config_seen = fingerprint(self.config_path)
        self._refused = ""  # fingerprint of the last file version a reload refused
        self.http = config.http
        self.started_at = clock()
        self.events: Counter[str] = Counter()
        self.alerts: Counter[tuple[str, str]] = Counter()
        self.latency = LatencyRecorder()
        self._since_digest: Counter[tuple[str, str]] = Counter()
        self._digest_at = self.started_at
        self._source: IndexerSource | None = None
        self.web: WebServer | None = None
        self.ready = asyncio.Event()  # set once everything started (tests, embedding programs)

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

    def reload(self) -> bool:
        """Re-read the config (SIGHUP or a file change); keep the old rules if it is invalid."""
        seen = self._config_seen = fingerprint(self.config_path)
        result = reload(self.config_path, self.config, self.engine, self.silences, self._env)
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
        if result.restart_needed:
            later = ", ".join(result.restart_needed)
            log.warning("changed sections apply at the next restart: %s", later)
        log.info("reloaded %s: %d rules", self.config_path, len(self.engine.rules))
        return True

    async def _watch_file(self) -> None:
        """A scheduler job: reload when the file's content changed (editors, ConfigMap updates)."""
        if fingerprint(self.config_path) != self._config_seen:
            self.reload()

    async def run(self) -> None:
        """Run until stop() or a signal; every start-up error is raised before anything runs."""
        env = self._env
        plugins = make_plugin_manager(
            plugins_path(self.config_path, self.config.plugins_dir), env=env
        )
        notifiers = build_notifiers(self.config, plugins)
        self._route_console(notifiers.values())
        db = StateDB.open(self.config.state_dir, synchronous=self.config.delivery.synchronous)
        try:
            delivery = Delivery(Outbox(db), notifiers, self.config.delivery, clock=self.clock)
            if delivery.alerts.restore_engine(self.engine):
                log.info("alert state restored from %s", self.config.state_dir)
            self._plugins, self._delivery = plugins, delivery
            web = self.web = WebServer(self.http, self.snapshot) if self.http.enabled else None
            if web is not None:
                await web.start()  # a port in use stops the start here, nothing running yet
            await plugins.startup(self.config)
            await delivery.start()
            try:
                await self._watch()
            finally:
                await delivery.stop()
                delivery.submit_many((), state=self.engine.export_state())
                if web is not None:
                    await web.stop()
        finally:
            for notifier in notifiers.values():
                await notifier.close()
            await plugins.shutdown()
            db.close()

    def _route_console(self, notifiers: Iterable[Notifier]) -> None:
        if self.out is None:
            return
        for notifier in notifiers:
            if isinstance(notifier, ConsoleNotifier):
                notifier.out = self.out

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, self.reload)
        scheduler = AsyncIOScheduler(event_loop=loop)
        scheduler.add_job(self._tick, "interval", seconds=TICK, id="engine-tick", coalesce=True)
        scheduler.add_job(
            self._watch_file, "interval", seconds=WATCH, id="config-watch", coalesce=True
        )
        self._add_jobs(scheduler)
        scheduler.start()
        try:
            source = self._source = IndexerSource(
                self.config.source, scheduler=scheduler, env=self.env
            )
            async with source:
                self.ready.set()
                consume = asyncio.create_task(self._consume(source), name="alertbot-engine")
                stop = asyncio.create_task(self._stop.wait(), name="alertbot-stop")
                await asyncio.wait({consume, stop}, return_when=asyncio.FIRST_COMPLETED)
                for task in (consume, stop):
                    task.cancel()
                await asyncio.gather(consume, stop, return_exceptions=True)
        finally:
            scheduler.shutdown(wait=False)
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)

    async def _consume(self, source: IndexerSource) -> None:
        events = self.events
        async for batch in source.batches():
            notes: list[Notification] = []
            process = self.engine.process  # per batch: a reload may have swapped the engine
            for event in batch:
                events[event.kind] += 1
                found = process(event, event.at)
                if found:
                    notes += found
                    self.latency.observe(max(0.0, self.clock() - event.at))
            if notes:
                self.deliver(notes)

    async def _tick(self) -> None:
        """Engine time (a coroutine, so APScheduler runs it on the loop, never in a thread)."""
        self.silences.reload_if_changed()  # `alertbot silence add` writes the same file
        notes = self.engine.tick(self.clock())
        if notes:
            self.deliver(notes)

    def deliver(self, notes: Sequence[Notification]) -> None:
        """Enrich once (so retries send the same text), then hand to the durable outbox."""
        assert self._plugins is not None, "deliver() is only called while running"
        assert self._delivery is not None, "deliver() is only called while running"
        enriched = [self._plugins.enrich(note) for note in notes]
        self._delivery.submit_many(enriched, state=self.engine.export_state())
        self.notifications += len(enriched)
        for note in enriched:
            self.alerts[(note.rule, note.status)] += 1
            self._since_digest[(note.rule, note.status)] += 1

    # --- scheduled jobs and status --------------------------------------------------------
    def _add_jobs(self, scheduler: AsyncIOScheduler) -> None:
        jobs = self.config.jobs
        if jobs.digest is not None:
            every = jobs.digest.every
            scheduler.add_job(self._digest, "interval", seconds=every, id="digest")
        if jobs.heartbeat is not None:
            every = jobs.heartbeat.every
            scheduler.add_job(self._heartbeat, "interval", seconds=every, id="heartbeat")
        scheduler.add_job(self._prune, "interval", seconds=jobs.prune_every, id="prune")

    async def _digest(self) -> None:
        """Equity and PnL per account, and the alerts told since the last digest."""
        config = self.config.jobs.digest
        if config is None or self._source is None:
            return
        now = self.clock()
        notify = tuple(config.notify or self.config.defaults.notify or self.config.notifiers)
        accounts = self._source.normalizer.account_views(now)
        note = digest(accounts, self._since_digest, self._digest_at, now, notify, config.severity)
        self._digest_at = now
        self.deliver([note])
        self._since_digest = Counter()  # the digest does not count itself

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
        self.silences.purge(self.clock())

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
        )
