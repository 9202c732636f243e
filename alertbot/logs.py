"""Logging set-up: human text by default, JSON lines for log collectors."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

from alertbot.core.secrets import scrub_known


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and the exception, if any).

    Message and exception are scrubbed of every known secret, whichever library logged them.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Render a record as a JSON line."""
        out: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub_known(record.getMessage()),
        }
        if record.exc_info:
            out["exception"] = scrub_known(self.formatException(record.exc_info))
        return orjson.dumps(out).decode()


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message`, scrubbed of every known secret (traceback included)."""

    def format(self, record: logging.LogRecord) -> str:
        """Render a record as text, then scrub it."""
        return scrub_known(super().format(record))


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Configure the root logger once, on stderr (stdout carries command output)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        structured = JsonFormatter()
        structured.converter = time.gmtime
        handler.setFormatter(structured)
    else:
        text = TextFormatter("%(asctime)sZ %(levelname)-7s %(name)s: %(message)s")
        text.converter = time.gmtime
        handler.setFormatter(text)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries that narrate every job run or request at INFO: keep them for --log-level debug.
    quiet = logging.DEBUG if level == "debug" else logging.WARNING
    for name in ("apscheduler", "websockets", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(quiet)
