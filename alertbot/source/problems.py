"""Bad frames are logged once per reason (with the raw text, truncated), counted, and skipped."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

log = logging.getLogger("alertbot.source")
RAW_LIMIT = 300


def truncate(raw: Any, limit: int = RAW_LIMIT) -> str:
    """A short printable form of a raw frame or item for a log line."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else str(raw)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


class ProblemLog:
    """Counts problems by reason; logs the first of each reason at WARNING, the rest at DEBUG."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self.counts: Counter[str] = Counter()
        self._log = logger

    def __call__(self, reason: str, raw: Any = None) -> None:
        """Record one skipped frame or item."""
        self.counts[reason] += 1
        level = logging.WARNING if self.counts[reason] == 1 else logging.DEBUG
        if self._log.isEnabledFor(level):
            suffix = f": {truncate(raw)}" if raw is not None else ""
            more = " (further ones logged at debug level)" if level == logging.WARNING else ""
            self._log.log(level, "skipped %s%s%s", reason, more, suffix)

    @property
    def total(self) -> int:
        """How many problems so far."""
        return sum(self.counts.values())
