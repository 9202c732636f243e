"""Everything alertbot persists, behind `alertbot.state.api`; `open_state` picks the backend."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from alertbot.state.api import StateStore
from alertbot.state.config import StateConfig
from alertbot.state.db import DB_FILE, StateError, StateWriteError
from alertbot.state.sqlite import SqliteStore

__all__ = ["DB_FILE", "StateConfig", "StateError", "StateStore", "StateWriteError", "open_state"]


def open_state(
    state_dir: str | Path,
    *,
    synchronous: Literal["normal", "full"] = "normal",
    create: bool = True,
    reset: bool = False,
    config: StateConfig | None = None,
    exclusive: str | None = None,
) -> StateStore:
    """The store the config names: the one place that names a backend.

    SQLite (the default) lives in `state_dir`; `reset` moves an existing (or lost) database
    aside and starts empty (`run --reset-state`); `exclusive` holds its run lock (one `run`
    per state dir; the text says what the caller is doing, for the refusal). PostgreSQL is the
    database of `config.dsn` (`reset` is refused there: empty a shared database on purpose).
    """
    if config is not None and config.backend == "postgresql":
        if reset:
            raise StateError(
                "--reset-state empties a SQLite state dir; with backend postgresql, drop and "
                "recreate the database instead (other replicas share it)"
            )
        from alertbot.state.postgres import PgStore  # here: SQLite users never import psycopg

        return PgStore.open(config, create=create)
    return SqliteStore.open(
        state_dir, synchronous=synchronous, create=create, reset=reset, exclusive=exclusive
    )
