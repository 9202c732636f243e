"""The push side of the dashboard: one bounded queue per page, coalesced snapshots.

The engine only calls `changed()` (an `Event.set()`); the hub's own task builds at most one
state every `interval` seconds, serialises it once and offers the same text to every page. A
page whose queue is full (a slow browser) loses its queue and gets a fresh full snapshot next:
it never slows the engine or the other pages, and it never sees a partial update.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson

log = logging.getLogger("alertbot.web")
QUEUE = 8  # messages waiting per page before it falls back to a fresh snapshot
INTERVAL = 0.1  # seconds between builds at most (coalescing bursts of events)
SEND_TIMEOUT = 10.0  # a page that takes longer to take one message is closed
MAX_PAGES = 32  # pages connected at once


class Page:
    """One connected page: its queue, and whether its next message must be a full snapshot."""

    def __init__(self, limit: int = QUEUE) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(limit)
        self.needs_full = True
        self.dropped = 0  # times its queue overflowed

    def offer(self, message: str) -> bool:
        """Queue a message; on overflow drop the queue (False: it needs a full snapshot)."""
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.needs_full = True
            self.dropped += 1
            return False
        return True


class Hub:
    """Pages connected to the dashboard and the task that feeds them."""

    def __init__(
        self,
        build: Callable[[bool], dict[str, Any]],
        *,
        interval: float = INTERVAL,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self._build = build  # full -> the state as a dict
        self.interval = interval
        self.max_pages = max_pages
        self.pages: set[Page] = set()
        self._dirty = asyncio.Event()
        self.pushes = 0
        self.failures = 0  # builds that raised (logged once; pages keep their last state)

    def changed(self) -> None:
        """Something on the page may have changed (the engine's only cost: a flag)."""
        self._dirty.set()

    def join(self) -> Page | None:
        """A new page (its first message is a full snapshot); None when there are too many."""
        if len(self.pages) >= self.max_pages:
            return None
        page = Page()
        self.pages.add(page)
        self._dirty.set()
        return page

    def leave(self, page: Page) -> None:
        """A page went away."""
        self.pages.discard(page)

    async def run(self) -> None:
        """Build and offer a state whenever something changed, at most once per interval."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            if self.pages:
                try:
                    self.push()
                except Exception:  # a dashboard bug must not stop the alerting
                    self.failures += 1
                    level = logging.ERROR if self.failures == 1 else logging.DEBUG
                    log.log(level, "cannot build the dashboard's state", exc_info=True)
            await asyncio.sleep(self.interval)

    def push(self) -> None:
        """One build for every page (a full one too if a page needs it)."""
        update = full = ""
        for page in list(self.pages):
            if page.needs_full:
                full = full or _text(self._build(True))
                page.needs_full = not page.offer(full)
            else:
                update = update or _text(self._build(False))
                if not page.offer(update):
                    self._dirty.set()  # its fresh snapshot goes out with the next build
        self.pushes += 1


def _text(state: dict[str, Any]) -> str:
    return orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS).decode()
