"""Test doubles for delivery: a virtual clock, a loopback HTTP server, notifiers that use it."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from alertbot.core.model import Notification
from alertbot.notify.base import Notifier
from alertbot.notify.base import SendResult as Result  # the real contract
from alertbot.notify.config import NotifierConfig, RateConfig


class Clock:
    """Virtual time: `sleep` advances it and yields once, so waits cost nothing real."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.t = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)


def note(i: int, notify: Sequence[str] = ("hook",), status: str = "firing", **kw: Any):
    """A small notification whose fingerprint says which one it is."""
    fields: dict[str, Any] = {
        "rule": "equity-low",
        "status": status,
        "severity": "warning",
        "labels": {"n": str(i)},
        "title": f"alert {i}",
        "message": f"message {i}",
        "at": 1.0 * i,
        "notify": tuple(notify),
        "fingerprint": f"fp{i}",
        "starts_at": 0.0,
        "ends_at": None,
        "event": {"kind": "account", "n": i},
    }
    fields.update(kw)
    return Notification(**fields)


@dataclass
class Reply:
    """What the server answers to one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None  # answer only once this is set


class HookServer:
    """A webhook receiver on 127.0.0.1 in a thread: logs every body, answers from a script."""

    def __init__(self, script: Sequence[Reply] = (), delay: float = 0.0) -> None:
        self.script = list(script)
        self.delay = delay
        self.log: list[dict[str, Any]] = []  # every request received, in order
        self.answered: list[dict[str, Any]] = []  # requests answered 2xx
        self.received = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.received:
                    outer.log.append(body)
                    reply = outer.script.pop(0) if outer.script else Reply()
                    outer.received.notify_all()
                if reply.hold is not None:
                    reply.hold.wait(30)
                elif outer.delay:
                    threading.Event().wait(outer.delay)
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if 200 <= reply.status < 300:
                    with outer.received:
                        outer.answered.append(body)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client killed mid-request (the SIGKILL test) is expected

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> HookServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Block (a thread) until `count` requests arrived."""
        with self.received:
            if not self.received.wait_for(lambda: len(self.log) >= count, timeout):
                raise AssertionError(f"only {len(self.log)} of {count} requests arrived")

    def ids(self) -> list[str]:
        """Fingerprints of every notification received, duplicates included."""
        return [fp for body in self.log for fp in body["fingerprints"]]


class Fake(Notifier):
    """A real Notifier whose send deadline is its own `timeout` (no grace): delivery's
    `timeout` decides how long a hanging send may take."""

    type = "fake"

    def __init__(
        self, name: str, *, max_batch: int = 1, rate: tuple[int, float] | None = None
    ) -> None:
        limit = RateConfig(messages=rate[0], per=rate[1]) if rate else None
        super().__init__(name, NotifierConfig(timeout=0.05, max_batch=max_batch, rate=limit))

    @property
    def deadline(self) -> float:
        return self.timeout

    def describe(self) -> str:
        return f"{self.type} {self.name}"


class HttpNotifier(Fake):
    """A webhook notifier over real HTTP (httpx)."""

    type = "webhook"

    def __init__(
        self, name: str, url: str, *, max_batch: int = 1, rate: tuple[int, float] | None = None
    ) -> None:
        super().__init__(name, max_batch=max_batch, rate=rate)
        self.url = url
        self.client = httpx.AsyncClient(timeout=30.0)

    async def send(self, batch: Sequence[Notification]) -> Result:
        body = {"notifier": self.name, "fingerprints": [n.fingerprint for n in batch]}
        try:
            resp = await self.client.post(self.url, json=body)
        except httpx.HTTPError as exc:
            return Result(False, detail=f"{type(exc).__name__} posting to {self.url}")
        if resp.is_success:
            return Result(True)
        detail = f"HTTP {resp.status_code} from {self.url}"
        if resp.status_code == 429:
            return Result(False, float(resp.headers.get("Retry-After", "1")), detail=detail)
        return Result(False, permanent=400 <= resp.status_code < 500, detail=detail)

    async def close(self) -> None:
        await self.client.aclose()


class Recorder(Fake):
    """Records each batch; answers from a script of Results (then ok)."""

    type = "recorder"

    def __init__(
        self,
        name: str,
        script: Sequence[Result] = (),
        *,
        max_batch: int = 10,
        rate: tuple[int, float] | None = None,
    ) -> None:
        super().__init__(name, max_batch=max_batch, rate=rate)
        self.script = list(script)
        self.batches: list[list[str]] = []
        self.notes: list[Notification] = []

    async def send(self, batch: Sequence[Notification]) -> Result:
        self.batches.append([n.fingerprint for n in batch])
        self.notes.extend(batch)
        return self.script.pop(0) if self.script else Result(True)

    def ids(self) -> list[str]:
        return [fp for b in self.batches for fp in b]


class Hanging(Recorder):
    """Never answers (a dead TCP peer)."""

    async def send(self, batch: Sequence[Notification]) -> Result:
        self.batches.append([n.fingerprint for n in batch])
        await asyncio.Event().wait()
        raise AssertionError("unreachable")
