"""Loopback peers for notifier tests: a tiny asyncio HTTP server that records every request."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from alertbot.core.model import AlertSummary, Notification

ADDRESS = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"
T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def note(**overrides: Any) -> Notification:
    """A firing notification with sensible fields; override any of them."""
    fields: dict[str, Any] = {
        "rule": "equity-low",
        "status": "firing",
        "severity": "critical",
        "labels": {"address": ADDRESS, "subaccount": "0"},
        "title": "Equity below 1000 on acct",
        "message": "equity 950.5 < 1000",
        "at": T0 + 5,
        "notify": ("ops",),
        "fingerprint": "fp-1",
        "starts_at": T0,
        "ends_at": None,
        "event": {"kind": "account", "at": "2023-11-14T22:13:20.000Z", "equity": 950.5},
    }
    fields.update(overrides)
    return Notification(**fields)


def grouped(count: int) -> Notification:
    """A grouped notification with `count` members."""
    members = tuple(
        AlertSummary(
            {"ticker": f"M{i}-USD"},
            "firing",
            f"Big trade on M{i}-USD",
            "m",
            T0,
            {},
            fingerprint=f"fp-M{i}",
        )
        for i in range(count)
    )
    return note(title="Big trade on M0-USD", labels={}, alerts=members)


@dataclass
class Request:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


Reply = tuple[int, dict[str, str], bytes]


@dataclass
class FakeHttp:
    """Answers from `replies` in order (then `default`); `hang` makes it never answer."""

    default: Reply = (200, {}, b"ok")
    replies: list[Reply] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    hang: bool = False
    respond: Callable[[Request], Reply] | None = None
    server: asyncio.Server | None = None
    writers: set[asyncio.StreamWriter] = field(default_factory=set)
    port: int = 0

    async def start(self) -> None:
        """Listen on an ephemeral loopback port."""
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop open connections."""
        if self.server is not None:
            self.server.close()
            for writer in self.writers:
                writer.close()
            await self.server.wait_closed()

    def url(self, path: str = "/hook") -> str:
        """An http:// URL on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while request := await _read(reader):
                self.requests.append(request)
                if self.hang:
                    await asyncio.Event().wait()
                status, headers, body = self._reply(request)
                head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n"
                head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                writer.write(head.encode() + b"\r\n" + body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    def _reply(self, request: Request) -> Reply:
        if self.respond is not None:
            return self.respond(request)
        return self.replies.pop(0) if self.replies else self.default


async def _read(reader: asyncio.StreamReader) -> Request | None:
    line = await reader.readline()
    if not line:
        return None
    method, path, _ = line.decode().split(" ", 2)
    headers: dict[str, str] = {}
    while (raw := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = raw.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Request(method, path, headers, body)
