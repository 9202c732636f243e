"""Shared fixtures: a real SQLite state dir in tmp_path, a virtual clock, a Delivery builder."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from alertbot.notify.delivery import Delivery
from alertbot.notify.delivery_config import DeliveryConfig
from alertbot.state.db import StateDB
from alertbot.state.sqlite import SqliteStore
from tests.delivery.fakes import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    state = SqliteStore.open(tmp_path / "state")
    yield state
    state.close()


@pytest.fixture
def db(store: SqliteStore) -> StateDB:
    """The store's connection, for reading tables directly."""
    return store.db


@pytest.fixture
def make(store: SqliteStore, clock: Clock) -> Callable[..., Delivery]:
    """make(notifier, ..., **delivery_config) -> a Delivery on the virtual clock (rng = 0.5)."""

    def build(*notifiers: Any, **config: Any) -> Delivery:
        cfg = DeliveryConfig(**config)
        named = {n.name: n for n in notifiers}
        return Delivery(store, named, cfg, clock=clock, rng=lambda: 0.5, sleep=clock.sleep)

    return build


async def until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Wait (bounded) for a condition that another task or thread makes true."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - the condition may be set by a server thread
            await asyncio.sleep(0.001)


def rows(db: StateDB) -> list[tuple[Any, ...]]:
    """(id, notifier, status, attempts, fingerprint, last_error) of every outbox row."""
    return db.query(
        "SELECT id, notifier, status, attempts, fingerprint, last_error FROM outbox ORDER BY id"
    )
