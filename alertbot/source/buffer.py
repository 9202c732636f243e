"""Events from every connection to one consumer: appended cheaply, taken in batches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from alertbot.core.model import Event

Flush = Callable[[], list[Event]]  # events due once per batch (the lazy revaluations)


class EventBuffer:
    """A bounded hand-off that costs one list extend per frame, not a queue round-trip per event.

    Producers append synchronously; when the buffer holds `limit` events they wait for the
    consumer (back-pressure reaches the socket instead of memory growing without bound).
    """

    def __init__(self, limit: int = 10_000, flush: Flush | None = None) -> None:
        """`flush` is called as each batch is taken; what it returns ends the batch."""
        self.limit = limit
        self._flush = flush
        self._items: list[Event] = []
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._waiting = False  # the consumer sleeps in take(): the next put must wake it

    def __len__(self) -> int:
        return len(self._items)

    def pending(self) -> list[Event]:
        """What is buffered, not yet taken (read, do not change)."""
        return self._items

    def put(self, events: list[Event]) -> bool:
        """Append without waiting; True when the buffer is full (then await `room()`)."""
        items = self._items
        items += events
        if self._waiting:
            self._waiting = False
            self._ready.set()
        return len(items) >= self.limit

    def wake(self) -> None:
        """Wake a waiting consumer with nothing buffered: `flush` has events due."""
        if self._waiting:
            self._waiting = False
            self._ready.set()

    async def room(self) -> None:
        """Wait until the consumer has taken what is buffered, if the buffer is full."""
        while len(self._items) >= self.limit:
            self._room.clear()
            await self._room.wait()

    async def take(self) -> list[Event]:
        """Everything buffered and then what `flush` has due, waiting for at least one event."""
        flush = self._flush
        while True:
            if flush is not None:
                due = flush()
                if due:
                    self._items += due
            if self._items:
                break
            self._ready.clear()
            self._waiting = True
            try:
                await self._ready.wait()
            finally:
                self._waiting = False
        items, self._items = self._items, []
        self._room.set()
        return items
