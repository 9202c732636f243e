"""A deliberately small HTTP/1.1 server for /healthz and /metrics on asyncio streams.

One request per connection (`Connection: close`), a request head of at most `max_request`
bytes, one deadline for the whole exchange and a cap on concurrent clients: a slow or hostile
client costs one task for `timeout` seconds at most, and never blocks the others. Request bodies
are never read, so they can never be logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType

from alertbot.core.errors import AlertbotError
from alertbot.web.config import HttpConfig
from alertbot.web.health import health
from alertbot.web.metrics import CONTENT_TYPE, render_metrics
from alertbot.web.snapshot import Snapshot

log = logging.getLogger("alertbot.web")
ALLOWED = ("GET", "HEAD")
TEXT = "text/plain; charset=utf-8"


class WebServerError(AlertbotError):
    """The endpoint cannot listen where configured, so `alertbot run` refuses to start."""


@dataclass(frozen=True, slots=True)
class Response:
    """What one request gets back."""

    status: int
    content_type: str
    body: bytes

    def encode(self, head_only: bool = False) -> bytes:
        """The bytes on the wire; HEAD gets the same headers and no body."""
        headers = [
            f"HTTP/1.1 {self.status} {HTTPStatus(self.status).phrase}",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.body)}",
            "Cache-Control: no-store",
            "Connection: close",
        ]
        if self.status == HTTPStatus.METHOD_NOT_ALLOWED:
            headers.append(f"Allow: {', '.join(ALLOWED)}")
        head = ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1")
        return head if head_only else head + self.body


def text(status: int, message: str) -> Response:
    """A short plain-text response (errors)."""
    return Response(status, TEXT, f"{message}\n".encode())


def parse_request_line(head: bytes) -> tuple[str, str] | None:
    """(method, path without query) from a request head, or None when it is not HTTP/1.x."""
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1].startswith("/"):
        return None
    return parts[0], parts[1].split("?", 1)[0]


class WebServer:
    """Serves /healthz and /metrics from a snapshot function called once per request."""

    def __init__(
        self,
        config: HttpConfig,
        snapshot: Callable[[], Snapshot],
        *,
        timeout: float = 5.0,
        max_request: int = 8192,
        max_clients: int = 32,
    ) -> None:
        self.config = config
        self._snapshot = snapshot
        self.timeout = timeout  # seconds for a client to send its request and read the answer
        self.max_request = max_request  # bytes of request line and headers
        self.max_clients = max_clients  # concurrent connections; more are dropped at once
        self._server: asyncio.Server | None = None
        self._clients: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._refused = 0  # clients dropped over max_clients (the first one is logged)
        self._routes: dict[str, Callable[[Snapshot], Response]] = {
            "/healthz": self._health,
            "/metrics": self._metrics,
        }

    @property
    def listening(self) -> bool:
        """True between a successful start() and stop()."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port (the one the OS chose when `listen` says port 0)."""
        if self._server is None:
            raise RuntimeError("the web server is not listening")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        """Bind and listen (no-op when disabled); raise WebServerError naming host:port."""
        if not self.config.enabled or self._server is not None:
            return
        host, port = self.config.host, self.config.port
        try:
            self._server = await asyncio.start_server(
                self._client, host, port, limit=self.max_request
            )
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise WebServerError(
                f"http.listen: cannot listen on {host}:{port}: {reason} "
                "(another process on that port? change http.listen or set http.enabled: false)"
            ) from exc
        log.info("health and metrics on http://%s:%d/healthz and /metrics", host, self.port)

    async def stop(self) -> None:
        """Stop listening and drop clients still connected (each holds a few bytes at most)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in self._clients.values():
            writer.transport.abort()  # their reads see EOF and writes fail: each task ends
        await asyncio.gather(*self._clients, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> WebServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection: read the head, answer, close; abort on timeout or error."""
        task = asyncio.current_task()
        assert task is not None, "asyncio runs stream callbacks in tasks"
        self._clients[task] = writer
        try:
            if len(self._clients) > self.max_clients:
                self._refused += 1
                level = logging.WARNING if self._refused == 1 else logging.DEBUG  # no log flood
                log.log(level, "more than %d clients at once; dropping", self.max_clients)
                return
            async with asyncio.timeout(self.timeout):
                answer = await self._exchange(reader)
                if answer is not None:
                    writer.write(answer)
                    await writer.drain()
                writer.close()
                await writer.wait_closed()
        except TimeoutError:
            log.debug("client too slow (over %.1fs); dropped", self.timeout)
        except OSError as exc:  # ConnectionResetError, BrokenPipeError, ...
            log.debug("client connection failed: %s", exc)
        finally:
            writer.transport.abort()  # a no-op after a clean close
            del self._clients[task]

    async def _exchange(self, reader: asyncio.StreamReader) -> bytes | None:
        """The answer to the request on `reader`; None when the client left without asking."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            return text(431, "request head too large").encode()
        except asyncio.IncompleteReadError:
            return None
        request = parse_request_line(head)
        if request is None:
            return text(400, "bad request").encode()
        method, path = request
        response = self._route(method, path)
        log.debug("%s %s -> %d", method, path, response.status)
        return response.encode(head_only=method == "HEAD")

    def _route(self, method: str, path: str) -> Response:
        """404 for unknown paths, 405 for methods other than GET and HEAD, 500 if the app fails."""
        handler = self._routes.get(path)
        if handler is None:
            return text(404, "not found: try /healthz or /metrics")
        if method not in ALLOWED:
            return text(405, "method not allowed")
        try:
            return handler(self._snapshot())
        except Exception:
            log.exception("cannot answer %s", path)
            return text(500, "internal error (see the alertbot log)")

    def _health(self, snapshot: Snapshot) -> Response:
        status, body = health(snapshot, self.config.unhealthy_after)
        return Response(status, "application/json", json.dumps(body).encode() + b"\n")

    def _metrics(self, snapshot: Snapshot) -> Response:
        return Response(200, CONTENT_TYPE, render_metrics(snapshot))
