"""The `opener` fixture: every test that takes it runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from alertbot.state import StateStore, open_state
from tests.pg import pg_config


@pytest.fixture(params=["sqlite", "postgresql"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], StateStore]:
    """Opens a store of one backend, again and again on the same place (a test's reopen)."""
    if request.param == "sqlite":
        return lambda: open_state(tmp_path)
    config = pg_config(request.getfixturevalue("pg_dsn"))
    return lambda: open_state(tmp_path, config=config)
