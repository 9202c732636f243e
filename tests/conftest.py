"""Fixtures shared by the end-to-end tests: the simulator and a webhook sink, both on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from alertbot.sim import SimSettings, Simulator, load_scenario
from tests import pg
from tests.notify.fakes import FakeHttp


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """The demo scenario, blocks every 0.1 s (modules may define their own `sim`)."""
    async with Simulator(load_scenario("demo"), SimSettings(block_interval=0.1)) as simulator:
        yield simulator


@pytest.fixture
async def sink() -> AsyncIterator[FakeHttp]:
    """A webhook receiver: records every request, answers `sink.default` (200 ok)."""
    http = FakeHttp()
    await http.start()
    yield http
    await http.stop()


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """One throwaway PostgreSQL database for the module (skips when no server answers)."""
    with pg.database() as dsn:
        yield dsn


@pytest.fixture
def pg_dsn(pg_database: str) -> str:
    """The module's database, emptied for this test."""
    pg.empty(pg_database)
    return pg_database


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say in one line when the PostgreSQL tests did not run (they skip without a server)."""
    skipped = [
        r
        for r in terminalreporter.stats.get("skipped", [])
        if pg.SKIP_REASON in str(getattr(r, "longrepr", ""))
    ]
    if skipped:
        terminalreporter.write_line(
            f"NOTE: {len(skipped)} PostgreSQL test(s) SKIPPED: no server at {pg.ADMIN_DSN} "
            f"(set {pg.REQUIRE_ENV}=1 to make that a failure)",
            yellow=True,
            bold=True,
        )
