"""Owned background tasks whose failure is reported, never lost (a part of `run`'s supervision).

A part that runs tasks of its own (the source's connections, delivery's workers) spawns them
here; `alertbot run` awaits `failure()` under its TaskGroup, so a task that dies of an
unexpected exception stops the run with one clear line and a non-zero exit instead of leaving a
part silently dead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, NoReturn

from alertbot.core.errors import AlertbotError


class TaskFailed(AlertbotError):
    """A supervised task ended with an exception; names the task and the error."""

    def __init__(self, task: str, error: BaseException) -> None:
        self.task = task
        self.error = error
        super().__init__(f"task {task} failed: {type(error).__name__}: {error}")


class Tasks:
    """A set of named tasks; the first one to fail is kept and raised by `failure()`."""

    def __init__(self) -> None:
        self.running: set[asyncio.Task[Any]] = set()
        self.failed: TaskFailed | None = None
        self._event: asyncio.Event | None = None

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start `coro` as a named task that is watched until it ends."""
        task = asyncio.create_task(coro, name=name)
        self.running.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.running.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        if self.failed is None:
            self.failed = TaskFailed(task.get_name(), task.exception())  # type: ignore[arg-type]
        self._signal().set()

    def _signal(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    async def failure(self) -> NoReturn:
        """Wait until a task fails, then raise its TaskFailed (never returns otherwise)."""
        await self._signal().wait()
        assert self.failed is not None  # set before the event
        raise self.failed

    async def cancel(self) -> None:
        """Cancel every task still running and wait for them to end."""
        tasks = list(self.running)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
