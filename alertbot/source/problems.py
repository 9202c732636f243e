"""Bad frames are logged once per reason (with the raw text, truncated), counted, and skipped."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import orjson

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
