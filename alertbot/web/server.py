"""The web endpoint: Starlette on uvicorn, served inside alertbot's own event loop.

uvicorn runs as a supervised task (`tasks.failure()` joins `alertbot run`'s TaskGroup) with no
signal handlers of its own: the app owns SIGINT/SIGTERM and stops it in order. Limits, so a slow
or hostile client costs little and never blocks the others: `max_clients` connections at once
(503 beyond), a deadline for each request head and for idle keep-alive (`timeout`), a cap on the
request head size and on WebSocket messages. Request bodies of /healthz and /metrics are never
read, so they can never be logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Callable, Generator, Sequence
from types import TracebackType

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from alertbot.core.errors import AlertbotError
from alertbot.core.tasks import Tasks
from alertbot.web.config import HttpConfig
from alertbot.web.guard import guarded
from alertbot.web.health import health
from alertbot.web.metrics import CONTENT_TYPE, render_metrics
from alertbot.web.snapshot import Snapshot

log = logging.getLogger("alertbot.web")
MAX_REQUEST = 16 * 1024  # bytes of a request head (h11 answers 400 beyond)
MAX_WS_MESSAGE = 16 * 1024  # bytes of one WebSocket message from a browser
GRACE = 1.0  # seconds open requests get at stop before they are cancelled
NO_STORE = {"Cache-Control": "no-store"}


class WebServerError(AlertbotError):
    """The endpoint cannot listen where configured, so `alertbot run` refuses to start."""


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers (the app owns them), telling when it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


class WebServer:
    """/healthz and /metrics, plus the routes given (the dashboard), on one port."""

    def __init__(
        self,
        config: HttpConfig,
        snapshot: Callable[[], Snapshot],
        *,
        timeout: float | None = None,
        max_clients: int | None = None,
        max_request: int = MAX_REQUEST,
        routes: Sequence[BaseRoute] = (),
    ) -> None:
        self.config = config
        self._snapshot = snapshot
        self.timeout = config.timeout if timeout is None else timeout
        self.max_clients = config.max_clients if max_clients is None else max_clients
        self.max_request = max_request
        self.routes = [
            Route("/healthz", self._health, methods=["GET", "HEAD"]),
            Route("/metrics", self._metrics, methods=["GET", "HEAD"]),
            *routes,
        ]
        self.tasks = Tasks()  # the uvicorn task: `alertbot run` supervises it
        self._server: _Server | None = None
        self._sock: socket.socket | None = None

    @property
    def listening(self) -> bool:
        """True between a successful start() and stop()."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port (the one the OS chose when `listen` says port 0)."""
        if self._sock is None or self._server is None:
            raise RuntimeError("the web server is not listening")
        port: int = self._sock.getsockname()[1]
        return port

    @property
    def clients(self) -> int:
        """Connections open now (HTTP and WebSocket)."""
        return len(self._server.server_state.connections) if self._server is not None else 0

    async def start(self) -> None:
        """Bind and listen (no-op when disabled); raise WebServerError naming host:port."""
        if not self.config.enabled or self._server is not None:
            return
        self._sock = sock = self._bind()
        quiet = logging.getLogger("uvicorn.error")
        if quiet.level == logging.NOTSET:  # "Started server process", "Press CTRL+C": not ours
            quiet.setLevel(logging.WARNING)
        server = _Server(self._uvicorn_config())
        task = self.tasks.spawn(server.serve(sockets=[sock]), name="alertbot-web")
        listening = asyncio.ensure_future(server.listening.wait())
        await asyncio.wait({task, listening}, return_when=asyncio.FIRST_COMPLETED)
        listening.cancel()
        if not server.listening.is_set():
            sock.close()
            raise WebServerError(f"http.listen: cannot serve on {self.config.listen}")
        self._server = server
        log.info(
            "health and metrics on http://%s:%d/healthz and /metrics",
            self.config.host,
            self.port,
        )

    def _bind(self) -> socket.socket:
        host, port = self.config.host, self.config.port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            reason = exc.strerror or str(exc)
            raise WebServerError(
                f"http.listen: cannot listen on {host}:{port}: {reason} "
                "(another process on that port? change http.listen or set http.enabled: false)"
            ) from exc
        return sock

    def _uvicorn_config(self) -> uvicorn.Config:
        app = Starlette(routes=self.routes)
        return uvicorn.Config(
            app,
            log_config=None,
            access_log=False,  # a URL or header could carry what should not be logged
            lifespan="off",
            http=guarded(self.timeout),
            ws="websockets-sansio",
            ws_max_size=MAX_WS_MESSAGE,
            ws_per_message_deflate=False,  # CPU per message on the engine's loop: not worth it
            limit_concurrency=self.max_clients + 1,  # uvicorn counts the asking one too
            timeout_keep_alive=max(1, round(self.timeout)),
            timeout_graceful_shutdown=round(GRACE),
            h11_max_incomplete_event_size=self.max_request,
            server_header=False,
            proxy_headers=False,
        )

    async def stop(self) -> None:
        """Stop listening and close every connection (pages get a WebSocket close)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*self.tasks.running), GRACE * 5)
        await self.tasks.cancel()
        if self._sock is not None:
            self._sock.close()

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

    def _take(self, path: str) -> Snapshot | Response:
        try:
            return self._snapshot()
        except Exception:
            log.exception("cannot answer %s", path)
            return text(500, "internal error (see the alertbot log)")

    async def _health(self, request: Request) -> Response:
        snap = self._take("/healthz")
        if isinstance(snap, Response):
            return snap
        status, body = health(snap, self.config.unhealthy_after)
        return Response(json.dumps(body).encode() + b"\n", status, NO_STORE, "application/json")

    async def _metrics(self, request: Request) -> Response:
        snap = self._take("/metrics")
        if isinstance(snap, Response):
            return snap
        return Response(render_metrics(snap), 200, NO_STORE, CONTENT_TYPE)


def text(status: int, message: str) -> Response:
    """A short plain-text response (errors)."""
    return PlainTextResponse(f"{message}\n", status, NO_STORE)
