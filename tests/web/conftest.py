"""A WebServer on a free loopback port, fed by a snapshot the test controls."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from alertbot.web.config import HttpConfig
from alertbot.web.server import WebServer
from tests.web.helpers import LIMIT, Holder


@pytest.fixture
def holder() -> Holder:
    return Holder()


@pytest.fixture
async def server(holder: Holder) -> AsyncIterator[WebServer]:
    config = HttpConfig(listen="127.0.0.1:0", unhealthy_after=LIMIT)
    async with WebServer(config, holder, timeout=0.5) as web:
        yield web
