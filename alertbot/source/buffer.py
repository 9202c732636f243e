"""Events from every connection to one consumer: appended cheaply, taken in batches."""

from __future__ import annotations

import asyncio

from alertbot.core.model import Event


class EventBuffer:
    """A bounded hand-off that costs one list extend per frame, not a queue round-trip per event.

    Producers append synchronously; when the buffer holds `limit` events they wait for the
    consumer (back-pressure reaches the socket instead of memory growing without bound).
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._items: list[Event] = []
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._waiting = False  # the consumer sleeps in take(): the next put must wake it

    def __len__(self) -> int:
        return len(self._items)

    def put(self, events: list[Event]) -> bool:
        """Append without waiting; True when the buffer is full (then await `room()`)."""
        items = self._items
        items += events
        if self._waiting:
            self._waiting = False
            self._ready.set()
        return len(items) >= self.limit

    async def room(self) -> None:
        """Wait until the consumer has taken what is buffered, if the buffer is full."""
        while len(self._items) >= self.limit:
            self._room.clear()
            await self._room.wait()

    async def take(self) -> list[Event]:
        """Everything buffered, waiting for at least one event."""
        while not self._items:
            self._ready.clear()
            self._waiting = True
            try:
                await self._ready.wait()
            finally:
                self._waiting = False
        items, self._items = self._items, []
        self._room.set()
        return items
