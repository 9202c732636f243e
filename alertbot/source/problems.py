"""Bad frames are counted and skipped; each reason is logged once (bounded, truncated)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson

log = logging.getLogger("alertbot.source")
RAW_LIMIT = 300


def truncate(raw: Any, limit: int = RAW_LIMIT) -> str:
    """A short printable form of a raw frame or item for a log line."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else str(raw)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


MAX_REASONS = 100  # distinct reasons counted apart; a flood of new ones shares OTHER
MAX_REASON = 120  # characters of a reason kept (reasons may quote server data)
LOG_BUDGET = 10  # new reasons logged at WARNING per LOG_WINDOW; the rest are summarised
LOG_WINDOW = 60.0
OTHER = "other problems (more distinct reasons than are counted apart)"


class ProblemLog:
    """Counts problems by reason; logs the first of each reason at WARNING, the rest at DEBUG.

    Bounded whatever a server sends: at most MAX_REASONS reasons (MAX_REASON characters each)
    are kept, and at most LOG_BUDGET new reasons are logged per minute; the lines held back are
    counted and reported in one line when the next minute starts.
    """

    def __init__(
        self, logger: logging.Logger = log, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.counts: Counter[str] = Counter()
        self.suppressed = 0  # WARNING lines held back (all time)
        self._log = logger
        self._clock = clock
        self._window = -LOG_WINDOW
        self._logged = 0
        self._held = 0  # held back in the current window

    def __call__(self, reason: str, raw: Any = None) -> None:
        """Record one skipped frame or item."""
        reason = reason[:MAX_REASON]
        if reason not in self.counts and len(self.counts) >= MAX_REASONS - 1:  # OTHER counts
            reason = OTHER
        self.counts[reason] += 1
        if self.counts[reason] > 1:
            if self._log.isEnabledFor(logging.DEBUG):
                self._log.debug("skipped %s: %s", reason, truncate(raw))
            return
        if self._budget():
            suffix = f": {truncate(raw)}" if raw is not None else ""
            more = " (further ones logged at debug level)"
            self._log.warning("skipped %s%s%s", reason, more, suffix)

    def _budget(self) -> bool:
        """True while this window may log another new reason; reports the held-back count."""
        now = self._clock()
        if now - self._window >= LOG_WINDOW:
            if self._held:
                self._log.warning(
                    "%d more kinds of bad frames in the last %ds were not logged "
                    "(counted in alertbot_skipped_frames_total)",
                    self._held,
                    LOG_WINDOW,
                )
            self._window, self._logged, self._held = now, 0, 0
        if self._logged < LOG_BUDGET:
            self._logged += 1
            return True
        self._held += 1
        self.suppressed += 1
        return False

    @property
    def total(self) -> int:
        """How many problems so far."""
        return sum(self.counts.values())


def shape(value: Any, depth: int = 3) -> str:
    """The structure of a decoded frame without its content, safe for a log line.

    `{"type":["x"]}` reads `{type: [str]}`; keys are kept (they are the protocol's vocabulary,
    cut to 32 characters, 12 per object), values are only their type names.
    """
    if isinstance(value, dict):
        if depth <= 0:
            return "{...}"
        items = [f"{str(k)[:32]}: {shape(v, depth - 1)}" for k, v in list(value.items())[:12]]
        more = f", +{len(value) - 12} keys" if len(value) > 12 else ""
        return "{" + ", ".join(items) + more + "}"
    if isinstance(value, list):
        if depth <= 0 or not value:
            return "[...]" if value else "[]"
        kinds = sorted({shape(v, depth - 1) for v in value[:20]})
        return "[" + " | ".join(kinds[:4]) + (" | ..." if len(kinds) > 4 else "") + "]"
    if isinstance(value, bytes | bytearray):
        return f"bytes({len(value)})"
    return "null" if value is None else type(value).__name__


def frame_shape(raw: Any) -> str:
    """The shape of a raw frame: its JSON structure, or its size if it does not parse."""
    if isinstance(raw, str | bytes | bytearray):
        try:
            return shape(orjson.loads(raw))
        except orjson.JSONDecodeError:
            return f"not JSON, {len(raw)} {'chars' if isinstance(raw, str) else 'bytes'}"
    return shape(raw)
