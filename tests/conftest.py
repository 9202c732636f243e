"""Fixtures shared by the end-to-end tests: the simulator and a webhook sink, both on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from alertbot.sim import SimSettings, Simulator, load_scenario
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
