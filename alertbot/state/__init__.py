"""Everything alertbot persists, behind `alertbot.state.api`; `open_state` picks the backend."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from alertbot.state.api import StateStore
from alertbot.state.db import DB_FILE, StateError, StateWriteError
from alertbot.state.sqlite import SqliteStore

__all__ = ["DB_FILE", "StateError", "StateStore", "StateWriteError", "open_state"]


def open_state(
    state_dir: str | Path,
    *,
    synchronous: Literal["normal", "full"] = "normal",
    create: bool = True,
    reset: bool = False,
) -> StateStore:
    """The store of a state directory (SQLite, embedded): the one place that names a backend.

    `reset` moves an existing (or lost) database aside and starts empty (`run --reset-state`).
    """
    return SqliteStore.open(state_dir, synchronous=synchronous, create=create, reset=reset)
