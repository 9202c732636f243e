"""The dashboard's server side over real sockets: slow pages and hostile clients cost the bot
nothing it needs (/healthz answers, the engine's `changed()` never waits), and a page that
falls behind gets a fresh snapshot instead of a backlog."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os

import httpx
import orjson
import pytest

from alertbot.web.actions import Controls
from alertbot.web.auth import COOKIE, Auth
from alertbot.web.config import HttpConfig
from alertbot.web.dashboard import Dashboard
from alertbot.web.hub import QUEUE, Hub
from alertbot.web.server import WebServer
from tests.apphelpers import until
from tests.web.helpers import Holder, get

TOKEN = "a-long-enough-token-123"


class Builds:
    """A board whose size and count the test controls (the real one needs a running app)."""

    def __init__(self, size: int = 100) -> None:
        self.size = size
        self.count = 0

    def __call__(self, full: bool) -> dict:
        self.count += 1
        return {"type": "full" if full else "update", "n": self.count, "pad": "x" * self.size}


def _no_parts():
    raise AssertionError("no action is taken in these tests")


def test_a_page_that_falls_behind_loses_its_queue_and_gets_a_full_snapshot():
    builds = Builds()
    hub = Hub(builds)
    slow, quick = hub.join(), hub.join()
    assert slow is not None
    assert quick is not None
    hub.push()
    assert orjson.loads(quick.queue.get_nowait())["type"] == "full"  # a new page's first
    for _ in range(QUEUE - 1):  # then updates: the slow page's queue fills
        hub.push()
        assert orjson.loads(quick.queue.get_nowait())["type"] == "update"  # it keeps up
    assert (slow.queue.full(), slow.dropped, slow.needs_full) == (True, 0, False)
    hub.push()  # one more: the slow page's backlog is dropped, not grown
    quick.queue.get_nowait()
    assert (slow.queue.empty(), slow.dropped, slow.needs_full) == (True, 1, True)
    hub.push()  # its next message is a whole state, not a gap
    assert orjson.loads(slow.queue.get_nowait())["type"] == "full"
    assert orjson.loads(quick.queue.get_nowait())["type"] == "update"
    assert quick.queue.empty()
    assert quick.dropped == 0


def test_pages_beyond_the_cap_are_refused():
    hub = Hub(Builds(), max_pages=2)
    assert hub.join() is not None
    assert hub.join() is not None
    assert hub.join() is None


async def _stalled_page(
    port: int, cookie: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A logged-in WebSocket client that completes the handshake and then never reads."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nCookie: {COOKIE}={cookie}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    return reader, writer


async def test_slow_pages_and_slowloris_clients_do_not_stall_healthz_or_the_engine():
    builds = Builds(size=1024 * 1024)  # big messages fill a stalled page's socket soon
    hub = Hub(builds, interval=0.01)
    auth = Auth(TOKEN)
    dashboard = Dashboard(auth, hub, Controls(_no_parts, hub.changed))
    config = HttpConfig(listen="127.0.0.1:0", dashboard=True, token=TOKEN)
    pusher = asyncio.create_task(hub.run())
    opened: list[asyncio.StreamWriter] = []
    try:
        async with WebServer(config, Holder(), timeout=0.5, routes=dashboard.routes()) as web:
            for _ in range(5):  # slowloris: a request head that never completes
                _, writer = await asyncio.open_connection("127.0.0.1", web.port)
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                opened.append(writer)
            pages = [await _stalled_page(web.port, auth.new_session()) for _ in range(3)]
            opened += [w for _, w in pages]
            async with asyncio.timeout(20):  # until every stalled page has fallen behind
                while not all(p.dropped for p in hub.pages):
                    hub.changed()  # the engine's side: never blocks, whatever the pages do
                    async with asyncio.timeout(1.0):  # and /healthz is answered meanwhile
                        assert (await get(web.port, "/healthz")).status == 200
            assert len(hub.pages) == 3
            assert all(p.queue.qsize() <= QUEUE for p in hub.pages)  # memory stays bounded
            async with asyncio.timeout(5):  # the slowloris ones are dropped after `timeout`
                for writer in opened[:5]:
                    reader = writer.transport.get_protocol()._stream_reader  # type: ignore[attr-defined]
                    with contextlib.suppress(ConnectionResetError):
                        assert await reader.read() == b""
    finally:
        pusher.cancel()
        for writer in opened:
            writer.close()
        with contextlib.suppress(asyncio.CancelledError):
            await pusher


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"authorization": f"Bearer {TOKEN}"}, 200), ({"authorization": "Bearer x"}, 401)],
)
async def test_the_page_answers_401_without_the_token(headers, status):
    hub = Hub(Builds())
    dashboard = Dashboard(Auth(TOKEN), hub, Controls(_no_parts, hub.changed))
    config = HttpConfig(listen="127.0.0.1:0", dashboard=True, token=TOKEN)
    async with WebServer(config, Holder(), routes=dashboard.routes()) as web:
        async with httpx.AsyncClient() as client:
            reply = await client.get(f"http://127.0.0.1:{web.port}/", headers=headers)
        assert reply.status_code == status
        assert TOKEN not in reply.text


async def test_a_failing_build_is_logged_and_the_hub_goes_on(caplog):
    def broken(full: bool) -> dict:
        raise RuntimeError("board exploded")

    hub = Hub(broken, interval=0.01)
    hub.join()
    runner = asyncio.create_task(hub.run())
    try:
        hub.changed()
        await until(lambda: hub.failures >= 1, "a failed build")
        hub.changed()
        await until(lambda: hub.failures >= 2, "a second try")
        assert not runner.done()  # the alerting bot would go on
        errors = [r for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 1  # logged once, not once per build
        assert "board exploded" in caplog.text
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


async def test_a_big_login_form_is_refused_before_it_is_read():
    hub = Hub(Builds())
    dashboard = Dashboard(Auth(TOKEN), hub, Controls(_no_parts, hub.changed))
    config = HttpConfig(listen="127.0.0.1:0", dashboard=True, token=TOKEN)
    async with WebServer(config, Holder(), routes=dashboard.routes()) as web:
        url = f"http://127.0.0.1:{web.port}/login"
        async with httpx.AsyncClient() as client:
            big = await client.post(url, data={"token": "x" * 10_000})
            wrong = await client.post(url, data={"token": "x"})
            right = await client.post(url, data={"token": TOKEN})
    assert (big.status_code, wrong.status_code, right.status_code) == (413, 401, 303)
    assert right.headers["location"] == "/"
    assert "httponly" in right.headers["set-cookie"].lower()
    assert TOKEN not in right.headers["set-cookie"]
