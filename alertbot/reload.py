"""Hot reload of rules.yaml: validate first, keep the old rules on error, keep unchanged alerts."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from alertbot.config import Config
from alertbot.config_load import load_config
from alertbot.core.errors import AlertbotError, ConfigError
from alertbot.core.model import Notification, notice
from alertbot.rules.engine import Engine
from alertbot.rules.silences import SilenceStore

log = logging.getLogger("alertbot.reload")
LIVE_SECTIONS = ("defaults", "rules", "inhibit")  # what a reload changes without a restart


@dataclass
class Reloaded:
    """The outcome of one reload attempt."""

    config: Config | None  # the new config, or None when the file was refused
    engine: Engine | None
    problems: list[str]
    restart_needed: list[str]  # sections that changed but only take effect at a restart


def content_hash(path: Path) -> str:
    """What the file holds now (a content hash: an editor's save without changes is no reload)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def prepare(path: Path, silences: SilenceStore, env: dict[str, str]) -> Reloaded:
    """Validate `path` and build a fresh engine; safe off the event loop (it touches no state).

    The one loading path bounds the work (YAML, expression and template limits), so this ends
    in milliseconds even for a hostile file; the caller still runs it in a worker thread.
    """
    try:
        config = load_config(path, env=env)
        engine = Engine(config, silences=silences)
    except ConfigError as exc:
        return Reloaded(None, None, [str(p) for p in exc.problems], [])
    except AlertbotError as exc:
        return Reloaded(None, None, [str(exc)], [])
    return Reloaded(config, engine, [], [])


def commit(prepared: Reloaded, current: Config, engine: Engine) -> Reloaded:
    """On the event loop: the new engine takes over the state of unchanged rules."""
    if prepared.config is None or prepared.engine is None:
        return prepared
    prepared.engine.take_over(engine)
    changed = [
        key
        for key in type(current).model_fields
        if key not in LIVE_SECTIONS and getattr(prepared.config, key) != getattr(current, key)
    ]
    return Reloaded(prepared.config, prepared.engine, [], changed)


def failure_notice(
    path: Path, problems: list[str], notify: tuple[str, ...], now: float
) -> Notification:
    """The alert a refused reload sends: the old rules stay active, here is why."""
    shown = problems[:20]
    more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
    title = f"Config reload refused: {path.name} has {len(problems)} problem(s)"
    message = "The previous rules stay active.\n" + "\n".join(shown) + more
    labels = {"file": os.fspath(path)}
    return notice("alertbot-config", "error", title, message, notify, now, labels)
