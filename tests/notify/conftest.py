"""Fixtures: a loopback HTTP server per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.notify.fakes import FakeHttp


@pytest.fixture
async def http() -> AsyncIterator[FakeHttp]:
    """A recording HTTP server on 127.0.0.1."""
    server = FakeHttp()
    await server.start()
    yield server
    await server.stop()
