"""Who may see the dashboard: the token, a session cookie derived from it, and CSRF tokens.

The token is compared in constant time (`hmac.compare_digest`) and never stored anywhere but
the config: the session cookie is `issued.HMAC(token, issued)`, so it proves a login without
carrying the token, survives a bot restart (the page reconnects without logging in again) and
dies when the token changes or after SESSION_TTL. The CSRF token of a session is another HMAC
of it: pages read it from their own HTML, other sites cannot.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

COOKIE = "alertbot_session"
CSRF_HEADER = "x-csrf-token"
SESSION_TTL = 7 * 24 * 3600.0


class Auth:
    """Checks a request's credentials against one token."""

    def __init__(self, token: str, clock: Callable[[], float] = time.time) -> None:
        self._key = token.encode()
        self._clock = clock

    def _mac(self, what: str) -> str:
        return hmac.new(self._key, what.encode(), hashlib.sha256).hexdigest()

    def token_ok(self, offered: str) -> bool:
        """The token, compared in constant time."""
        return hmac.compare_digest(offered.encode(), self._key)

    def new_session(self) -> str:
        """A cookie value for a successful login."""
        issued = str(int(self._clock()))
        return f"{issued}.{self._mac('session:' + issued)}"

    def session_ok(self, cookie: str) -> bool:
        """A cookie this token issued, not older than SESSION_TTL."""
        issued, _, mac = cookie.partition(".")
        if not issued.isdigit() or not 0 <= self._clock() - int(issued) <= SESSION_TTL:
            return False
        return hmac.compare_digest(mac, self._mac("session:" + issued))

    def csrf_for(self, cookie: str) -> str:
        """The CSRF token of a session (in the page, sent back as a header on actions)."""
        return self._mac("csrf:" + cookie)

    def allowed(self, conn: HTTPConnection) -> bool:
        """A valid session cookie or `Authorization: Bearer <token>`."""
        scheme, _, offered = conn.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and offered:
            return self.token_ok(offered.strip())
        return self.session_ok(conn.cookies.get(COOKIE, ""))

    def csrf_ok(self, conn: HTTPConnection) -> bool:
        """An action's proof that our page sent it: a bearer caller, or the session's CSRF token.

        A bearer header is never sent by a browser on its own, so it needs no CSRF token.
        """
        if conn.headers.get("authorization", "").lower().startswith("bearer "):
            return True
        cookie = conn.cookies.get(COOKIE, "")
        offered = conn.headers.get(CSRF_HEADER, "")
        return bool(cookie and offered) and hmac.compare_digest(offered, self.csrf_for(cookie))


def same_origin(conn: HTTPConnection) -> bool:
    """No Origin header (not a browser), or one naming the host the request was sent to."""
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == conn.headers.get("host", "")
