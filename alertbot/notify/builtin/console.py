"""`type: console`: print notifications to stdout (or stderr)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING

from alertbot.hookspecs import hookimpl
from alertbot.notify.base import Notifier, SendResult
from alertbot.notify.config import ConsoleConfig
from alertbot.notify.render import plain_text

if TYPE_CHECKING:
    from alertbot.core.model import Notification


class ConsoleNotifier(Notifier):
    """Writes each message as plain text; the stream is looked up at send time (tests swap it)."""

    type = "console"
    config_model = ConsoleConfig
    config: ConsoleConfig
    default_max_batch = 100
    out: IO[str] | None = None  # None: sys.stdout / sys.stderr as configured

    async def send(self, batch: Sequence[Notification]) -> SendResult:
        """Print the batch as one block."""
        stream = self.out or getattr(sys, self.config.stream)
        try:
            stream.write(plain_text(batch, self.custom) + "\n")
            stream.flush()
        except (OSError, ValueError) as exc:  # closed pipe or stream
            return SendResult.retry(f"cannot write to {self.config.stream}: {exc}")
        return SendResult.success()

    def describe(self) -> str:
        """Where it prints."""
        return f"console ({self.config.stream})"


@hookimpl
def alertbot_register_notifier_types(register: Callable[[type[Notifier]], None]) -> None:
    """Contribute `console`."""
    register(ConsoleNotifier)
