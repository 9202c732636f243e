"""The dashboard's routes: login, the page and its assets, the WebSocket, the actions.

Everything but /healthz and /metrics needs the token (auth.py): pages and actions answer 401,
the WebSocket closes with 1008. Actions also need the session's CSRF token and a same-origin
`Origin`. Assets are files of this package (no CDN); the page gets its CSRF token in a meta tag
and its data only over the WebSocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from alertbot.web.actions import ActionError, Controls
from alertbot.web.auth import COOKIE, SESSION_TTL, Auth, same_origin
from alertbot.web.hub import SEND_TIMEOUT, Hub, Page

log = logging.getLogger("alertbot.web")
POLICY_VIOLATION = 1008  # WebSocket close code: not logged in
TRY_AGAIN = 1013  # WebSocket close code: too many pages
MAX_BODY = 4096  # bytes of an action's JSON body
ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "vendor/uPlot.iife.min.js": "text/javascript; charset=utf-8",
    "vendor/uPlot.min.css": "text/css; charset=utf-8",
}
PUBLIC = {"style.css"}  # the login page's look
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer would make form posts say Origin: null
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def _asset(name: str) -> bytes:
    return (resources.files("alertbot.web") / "static" / name).read_bytes()


class Dashboard:
    """The routes of the page, over a hub (push) and controls (actions)."""

    def __init__(self, auth: Auth, hub: Hub, controls: Controls) -> None:
        self.auth = auth
        self.hub = hub
        self.controls = controls
        self._page = _asset("index.html").decode()
        self._login = _asset("login.html").decode()

    def routes(self) -> list[BaseRoute]:
        """Starlette routes, added next to /healthz and /metrics."""
        return [
            Route("/", self.index, methods=["GET", "HEAD"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/static/{name:path}", self.static, methods=["GET", "HEAD"]),
            Route("/api/{action}", self.action, methods=["POST"]),
            WebSocketRoute("/ws", self.push),
        ]

    def _login_page(self, status: int, message: str = "") -> Response:
        body = self._login.replace("{{message}}", html.escape(message))
        return Response(body, status, HEADERS, "text/html; charset=utf-8")

    async def index(self, request: Request) -> Response:
        """The page when logged in; else the login form, with 401."""
        if not self.auth.allowed(request):
            return self._login_page(401)
        cookie = request.cookies.get(COOKIE, "")
        csrf = self.auth.csrf_for(cookie) if cookie else ""
        body = self._page.replace("{{csrf}}", csrf)
        return Response(body, 200, HEADERS, "text/html; charset=utf-8")

    async def login(self, request: Request) -> Response:
        """The form's POST: a session cookie on the right token (the token is never echoed)."""
        if not same_origin(request):
            return PlainTextResponse("cross-site login refused\n", 403, HEADERS)
        if not _small(request):
            return PlainTextResponse("send a form of at most 4096 bytes\n", 413, HEADERS)
        async with request.form(max_files=0, max_fields=2, max_part_size=MAX_BODY) as form:
            offered = form.get("token")
        if not isinstance(offered, str) or not self.auth.token_ok(offered):
            log.warning("dashboard login refused (wrong token) from %s", _peer(request))
            return self._login_page(401, "Wrong token.")
        reply = RedirectResponse("/", 303, HEADERS)
        reply.set_cookie(
            COOKIE, self.auth.new_session(), max_age=int(SESSION_TTL), httponly=True,
            samesite="strict", secure=request.url.scheme == "https", path="/",
        )  # fmt: skip
        return reply

    async def logout(self, request: Request) -> Response:
        """Forget the cookie in this browser."""
        reply = RedirectResponse("/", 303, HEADERS)
        reply.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return reply

    async def static(self, request: Request) -> Response:
        """A packaged asset; all but the login page's style need a login."""
        name = request.path_params["name"]
        if name not in ASSETS:
            return PlainTextResponse("not found\n", 404, HEADERS)
        if name not in PUBLIC and not self.auth.allowed(request):
            return PlainTextResponse("log in first\n", 401, HEADERS)
        return Response(_asset(name), 200, HEADERS, ASSETS[name])

    async def action(self, request: Request) -> Response:
        """POST /api/silence|expire|ack|retry with a small JSON body."""
        if not self.auth.allowed(request):
            return _json({"error": "log in first"}, 401)
        if not same_origin(request) or not self.auth.csrf_ok(request):
            return _json({"error": "missing or wrong CSRF token"}, 403)
        body = await _body(request)
        if body is None:
            return _json({"error": f"send a JSON object of at most {MAX_BODY} bytes"}, 400)
        try:
            result = self._do(request.path_params["action"], body)
        except ActionError as exc:
            return _json({"error": str(exc)}, 409)
        except (KeyError, TypeError, ValueError) as exc:
            return _json({"error": f"bad request: {exc}"}, 400)
        return _json({"ok": True, **result}, 200)

    def _do(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        c = self.controls
        if action == "silence":
            return {"id": c.silence(str(body["fingerprint"]), float(body["seconds"]),
                                    str(body.get("comment", "")))}  # fmt: skip
        if action == "expire":
            c.expire(str(body["id"]))
        elif action == "ack":
            c.ack(str(body["fingerprint"]))
        elif action == "retry":
            c.retry(int(body["id"]))
        else:
            raise KeyError(f"no action {action!r}")
        return {}

    async def push(self, ws: WebSocket) -> None:
        """The push channel: snapshots out; anything the page sends is ignored."""
        await ws.accept()
        if not self.auth.allowed(ws) or not same_origin(ws):
            await ws.close(POLICY_VIOLATION, "log in first")
            return
        page = self.hub.join()
        if page is None:
            await ws.close(TRY_AGAIN, "too many pages")
            return
        try:
            await _serve(ws, page)
        finally:
            self.hub.leave(page)


async def _serve(ws: WebSocket, page: Page) -> None:
    """Send the page's queue; stop when it goes away or does not take a message in time."""

    async def send() -> None:
        while True:
            message = await page.queue.get()
            await asyncio.wait_for(ws.send_text(message), SEND_TIMEOUT)

    async def receive() -> None:
        while True:
            got = await ws.receive()
            if got["type"] == "websocket.disconnect":
                return

    sender = asyncio.ensure_future(send())
    receiver = asyncio.ensure_future(receive())
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, receiver):
            task.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.gather(sender, receiver, return_exceptions=True)
        with contextlib.suppress(Exception):
            await ws.close()


def _small(request: Request) -> bool:
    """A declared body length within MAX_BODY (a form is read whole: refuse big ones first)."""
    length = request.headers.get("content-length", "")
    return length.isdigit() and int(length) <= MAX_BODY


async def _body(request: Request) -> dict[str, Any] | None:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _json(value: dict[str, Any], status: int) -> Response:
    return Response(json.dumps(value), status, HEADERS, "application/json")


def _peer(request: Request) -> str:
    return request.client.host if request.client is not None else "?"
