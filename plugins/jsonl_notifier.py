"""Example plugin: a `jsonl` notifier appending one JSON line per notification to a file.

notifiers:
  archive: {type: jsonl, path: alerts.jsonl}
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson

from alertbot.core.model import Notification
from alertbot.hookspecs import hookimpl
from alertbot.notify.base import Notifier, SendResult
from alertbot.notify.config import NotifierConfig
from alertbot.notify.render import alert_json


class JsonlConfig(NotifierConfig):
    """Where to append (relative paths are relative to the working directory)."""

    path: str


class JsonlNotifier(Notifier):
    """Appends the webhook's per-alert JSON, one line each: easy to grep, tail or ship."""

    type = "jsonl"
    config_model = JsonlConfig
    config: JsonlConfig
    default_max_batch = 100

    async def send(self, batch: Sequence[Notification]) -> SendResult:
        """Write every notification of the batch in one append (a thread: file I/O blocks)."""
        lines = b"".join(orjson.dumps(alert_json(n, self.custom(n))) + b"\n" for n in batch)
        try:
            await asyncio.to_thread(self._append, lines)
        except OSError as exc:
            return SendResult.retry(f"cannot append to {self.config.path}: {exc.strerror}")
        return SendResult.success()

    def _append(self, data: bytes) -> None:
        with Path(self.config.path).open("ab") as file:
            file.write(data)

    def describe(self) -> str:
        """The file."""
        return f"jsonl {self.config.path}"


@hookimpl
def alertbot_register_notifier_types(register: Callable[[type[Notifier]], None]) -> None:
    """Contribute `jsonl`."""
    register(JsonlNotifier)
