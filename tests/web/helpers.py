"""A snapshot builder with sane defaults and a raw HTTP client over real loopback sockets."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Any

from alertbot.web.snapshot import ConnInfo, LatencyRecorder, Snapshot

NOW = 1_700_000_000.0
LIMIT = 120.0


def up(conn: int = 0, *, since: float = NOW - 600, quiet: float = 1.0) -> ConnInfo:
    """A connection that is up and heard from `quiet` seconds ago."""
    return ConnInfo(conn=conn, up=True, since=since, last_message_at=NOW - quiet, attempts=0)


def down(conn: int = 0, *, for_: float = 10.0, attempts: int = 2) -> ConnInfo:
    """A connection that has been down `for_` seconds."""
    return ConnInfo(
        conn=conn, up=False, since=NOW - for_, last_message_at=NOW - for_ - 5, attempts=attempts
    )


def snapshot(**changes: Any) -> Snapshot:
    """A healthy, busy app; tests change only what they are about."""
    latency = LatencyRecorder()
    for seconds in (0.004, 0.03, 0.03, 0.2, 7.0, 999.0):
        latency.observe(seconds)
    base = Snapshot(
        now=NOW,
        started_at=NOW - 3600,
        version="9.9.9",
        connections=[up(0), up(1)],
        polling=False,
        messages={"v4_subaccounts": 40, "v4_markets": 7},
        events={"fill": 3, "order.filled": 2},
        alerts={("equity-low", "firing"): 2, ("equity-low", "resolved"): 1},
        deliveries={("slack", "sent"): 3, ("slack", "failed"): 1, ("mail", "dead"): 1},
        outbox_depth=0,
        outbox_oldest_age=None,
        reconnects=4,
        gaps=1,
        latency=latency.snapshot(),
        problems=5,
    )
    return dataclasses.replace(base, **changes)


class Holder:
    """A snapshot function whose answer a test flips between requests."""

    def __init__(self, value: Snapshot | None = None) -> None:
        self.value = value or snapshot()

    def __call__(self) -> Snapshot:
        return self.value


@dataclass
class Reply:
    """One parsed HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes


async def request(port: int, raw: bytes) -> Reply:
    """Send `raw` on a fresh connection and read until the server closes it."""
    async with asyncio.timeout(5):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(raw)
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
            await writer.wait_closed()
    return parse(data)


async def get(port: int, path: str, method: str = "GET") -> Reply:
    """A well-formed request as curl would send it (one per connection: the answer ends it)."""
    raw = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n"
        "Connection: close\r\n\r\n"
    )
    return await request(port, raw.encode())


def parse(data: bytes) -> Reply:
    """Split a response into status, lower-cased headers and body."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(status, headers, body)
