"""The WebServer over real loopback sockets: answers, verdict flips, errors, hostile clients."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import socket

import pytest
from prometheus_client.parser import text_string_to_metric_families

from alertbot.core.errors import AlertbotError
from alertbot.web.config import HttpConfig
from alertbot.web.server import WebServer, WebServerError
from alertbot.web.snapshot import Snapshot
from tests.web.helpers import LIMIT, Holder, down, get, request, snapshot, up

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
FAMILIES = {
    "alertbot_messages": {"channel"},
    "alertbot_events": {"kind"},
    "alertbot_alerts": {"rule", "status"},
    "alertbot_deliveries": {"notifier", "result"},
    "alertbot_outbox_depth": set(),
    "alertbot_outbox_oldest_age_seconds": set(),
    "alertbot_reconnects": set(),
    "alertbot_gaps": set(),
    "alertbot_last_message_age_seconds": {"conn"},
    "alertbot_connection_up": {"conn"},
    "alertbot_polling": set(),
    "alertbot_skipped_frames": set(),
    "alertbot_frame_to_notification_seconds": {"le"},
    "alertbot_build_info": {"version"},
}


async def test_healthz_answers_json_200_when_healthy(server: WebServer) -> None:
    reply = await get(server.port, "/healthz")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert "server" not in reply.headers  # no software banner
    assert int(reply.headers["content-length"]) == len(reply.body)
    body = json.loads(reply.body)
    assert (body["status"], body["version"], len(body["connections"])) == ("ok", "9.9.9", 2)


async def test_healthz_turns_503_when_a_connection_stays_down(
    server: WebServer, holder: Holder
) -> None:
    holder.value = snapshot(connections=[up(0), down(1, for_=LIMIT + 60)])
    reply = await get(server.port, "/healthz")
    assert reply.status == 503
    assert json.loads(reply.body)["reasons"] == ["connection 1 down for 180s"]
    holder.value = snapshot()  # reconnected: healthy again on the next probe
    assert (await get(server.port, "/healthz")).status == 200


async def test_healthz_turns_503_when_the_outbox_is_stuck(
    server: WebServer, holder: Holder
) -> None:
    holder.value = snapshot(outbox_depth=7, outbox_oldest_age=LIMIT * 3)
    reply = await get(server.port, "/healthz")
    body = json.loads(reply.body)
    assert (reply.status, body["status"], body["outbox"]) == (
        503,
        "unhealthy",
        {"depth": 7, "oldest_age": LIMIT * 3},
    )


async def test_metrics_expose_every_family_and_label(server: WebServer) -> None:
    reply = await get(server.port, "/metrics?name[]=ignored")
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    parsed = {f.name: f for f in text_string_to_metric_families(reply.body.decode())}
    assert set(FAMILIES) <= set(parsed)
    for name, labels in FAMILIES.items():
        assert parsed[name].samples, name
        for sample in parsed[name].samples:
            bucket = sample.name.endswith("_bucket")
            assert set(sample.labels) == (labels if bucket or "le" not in labels else set())


async def test_the_snapshot_is_taken_at_request_time(server: WebServer, holder: Holder) -> None:
    holder.value = dataclasses.replace(snapshot(), reconnects=12345)
    reply = await get(server.port, "/metrics")
    assert b"alertbot_reconnects_total 12345.0" in reply.body


async def test_head_has_the_headers_and_no_body(server: WebServer) -> None:
    for path in ("/healthz", "/metrics"):
        full, head = await get(server.port, path), await get(server.port, path, "HEAD")
        assert (head.status, head.body) == (200, b"")
        assert head.headers["content-length"] == str(len(full.body))


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 404),
        ("GET", "/healthz/extra", 404),
        ("POST", "/nowhere", 404),
        ("POST", "/healthz", 405),
        ("DELETE", "/metrics", 405),
    ],
)
async def test_unknown_paths_and_methods(
    server: WebServer, method: str, path: str, status: int
) -> None:
    reply = await get(server.port, path, method)
    assert reply.status == status
    if status == 405:
        assert set(reply.headers["allow"].split(", ")) == {"GET", "HEAD"}


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"garbage\r\n\r\n", 400),
        (b"GET /healthz\r\n\r\n", 400),
        (b"GET http://x/healthz HTTP/1.1\r\n\r\n", 400),
        # over max_request: h11 answers 400 (the hand-written server said 431)
        (b"GET /healthz HTTP/1.1\r\nX-Pad: " + b"a" * 20_000 + b"\r\n\r\n", 400),
    ],
)
async def test_malformed_and_oversized_requests(server: WebServer, raw: bytes, status: int) -> None:
    assert (await request(server.port, raw)).status == status


async def test_a_request_body_is_never_read_or_logged(
    server: WebServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="alertbot.web")
    secret = b"password=hunter2"
    raw = b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\n" + secret
    assert (await request(server.port, raw)).status == 405
    assert "hunter2" not in caplog.text


async def test_a_failing_snapshot_is_a_500_not_a_crash(
    server: WebServer, holder: Holder, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> Snapshot:
        raise RuntimeError("engine exploded")

    server._snapshot = broken
    assert (await get(server.port, "/healthz")).status == 500
    assert "engine exploded" in caplog.text
    server._snapshot = holder
    assert (await get(server.port, "/healthz")).status == 200


@pytest.mark.parametrize("sent", [b"", b"GET /healthz HTTP/1.1\r\n"], ids=["nothing", "partial"])
async def test_a_silent_client_is_dropped_without_blocking_others(
    server: WebServer, sent: bytes
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(sent)  # and then nothing more, ever
        await writer.drain()
        assert (await get(server.port, "/healthz")).status == 200  # served meanwhile
        async with asyncio.timeout(server.timeout * 10):
            with contextlib.suppress(ConnectionResetError):  # a reset is a drop too
                assert await reader.read() == b""  # dropped, nothing sent
    finally:
        writer.close()
        await writer.wait_closed()


async def test_clients_beyond_the_cap_are_refused_at_once(holder: Holder) -> None:
    config = HttpConfig(listen="127.0.0.1:0")
    async with WebServer(config, holder, timeout=5.0, max_clients=2) as web:
        # Accepted in order, so both idle ones hold a slot before the third arrives.
        idle = [await asyncio.open_connection("127.0.0.1", web.port) for _ in range(2)]
        answer = await _answer(web.port, HEALTHZ)  # uvicorn's limit_concurrency: 503 at once
        assert answer is not None
        assert answer.startswith(b"HTTP/1.1 503 ")
        for reader, writer in idle:  # the ones holding a slot are still served
            writer.write(HEALTHZ)
            async with asyncio.timeout(5):
                assert (await reader.read()).startswith(b"HTTP/1.1 200 OK\r\n")
            writer.close()
            await writer.wait_closed()


async def test_a_port_in_use_refuses_to_start(holder: Holder) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        web = WebServer(HttpConfig(listen=f"127.0.0.1:{port}"), holder)
        with pytest.raises(WebServerError, match=f"cannot listen on 127.0.0.1:{port}") as info:
            await web.start()
    assert isinstance(info.value, AlertbotError)
    assert not web.listening
    await web.stop()  # harmless after a failed start


async def test_disabled_does_not_listen(holder: Holder) -> None:
    web = WebServer(HttpConfig(enabled=False, listen="127.0.0.1:0"), holder)
    await web.start()
    assert not web.listening
    with pytest.raises(RuntimeError, match="not listening"):
        _ = web.port


async def test_stop_closes_the_port_and_drops_open_clients(holder: Holder) -> None:
    web = WebServer(HttpConfig(listen="127.0.0.1:0"), holder, timeout=60.0)
    await web.start()
    port = web.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\n")  # a request that never completes
    assert (await get(port, "/healthz")).status == 200  # so the idle one was accepted first
    assert web.clients  # the idle one, at least
    async with asyncio.timeout(5):
        await web.stop()
        with contextlib.suppress(ConnectionResetError):
            assert await reader.read() == b""
    assert not web.clients
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    await writer.wait_closed()


async def _answer(port: int, raw: bytes) -> bytes | None:
    """What the server sends back (None: the connection was reset)."""
    async with asyncio.timeout(5):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(raw)
            return await reader.read()
        except ConnectionResetError:
            return None
        finally:
            writer.close()
            with contextlib.suppress(ConnectionResetError):
                await writer.wait_closed()
