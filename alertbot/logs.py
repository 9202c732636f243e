"""Logging set-up: human text by default, JSON lines for log collectors."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        """Render a record as a JSON line."""
        out: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out).decode()


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Configure the root logger once, on stderr (stdout carries command output)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        structured = JsonFormatter()
        structured.converter = time.gmtime
        handler.setFormatter(structured)
    else:
        text = logging.Formatter("%(asctime)sZ %(levelname)-7s %(name)s: %(message)s")
        text.converter = time.gmtime
        handler.setFormatter(text)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries that narrate every job run or request at INFO: keep them for --log-level debug.
    quiet = logging.DEBUG if level == "debug" else logging.WARNING
    for name in ("apscheduler", "websockets", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(quiet)
