"""`alertbot run`: lifecycle only (build, start, run, stop); owns every task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from alertbot.config import Config
from alertbot.rules.engine import Engine
from alertbot.rules.render import Notification
from alertbot.rules.silences import SilenceStore
from alertbot.source.client import IndexerSource

log = logging.getLogger("alertbot")
TICK = 0.5  # engine timers (for, absence, repeat, group flushes) resolve to this


def format_console(note: Notification) -> str:
    """How the console notifier shows a notification (a resolve's title says so itself)."""
    marker = "" if note.status == "resolved" else "[FIRING] "
    head = f"{marker}{note.severity} {note.rule}: {note.title}"
    body = "\n".join(f"    {line}" for line in note.message.splitlines())
    return f"{head}\n{body}" if body else head


class App:
    """One process: source -> engine -> console, plus the scheduler that drives engine time."""

    def __init__(
        self,
        config: Config,
        *,
        out: IO[str] | None = None,
        clock: Callable[[], float] = time.time,
        env: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        self.env = env
        self.out = out if out is not None else sys.stdout  # resolved now, not at import
        self.clock = clock
        self.silences = SilenceStore.open(Path(config.state_dir))
        self.engine = Engine(config, silences=self.silences)
        self.notifications = 0
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Ask the app to stop (signal handlers call this)."""
        self._stop.set()

    async def run(self) -> None:
        """Run until stop() or a signal."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)
        scheduler = AsyncIOScheduler(event_loop=loop)
        scheduler.add_job(self._tick, "interval", seconds=TICK, id="engine-tick", coalesce=True)
        scheduler.start()
        try:
            source = IndexerSource(self.config.source, scheduler=scheduler, env=self.env)
            async with source:
                consume = asyncio.create_task(self._consume(source), name="alertbot-engine")
                stop = asyncio.create_task(self._stop.wait(), name="alertbot-stop")
                await asyncio.wait({consume, stop}, return_when=asyncio.FIRST_COMPLETED)
                for task in (consume, stop):
                    task.cancel()
                await asyncio.gather(consume, stop, return_exceptions=True)
        finally:
            scheduler.remove_job("engine-tick")
            scheduler.shutdown(wait=False)
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)

    async def _consume(self, source: IndexerSource) -> None:
        process, deliver = self.engine.process, self.deliver
        async for batch in source.batches():
            for event in batch:
                for note in process(event, event.at):
                    deliver(note)

    async def _tick(self) -> None:
        """Engine time (a coroutine, so APScheduler runs it on the loop, never in a thread)."""
        self.silences.reload_if_changed()  # `alertbot silence add` writes the same file
        for note in self.engine.tick(self.clock()):
            self.deliver(note)

    def deliver(self, note: Notification) -> None:
        """Console delivery (notifier plugins replace this in the delivery issue)."""
        self.notifications += 1
        self.out.write(format_console(note) + "\n")
        self.out.flush()
