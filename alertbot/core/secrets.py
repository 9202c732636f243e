"""The one secret masker: known secret values first, then anything shaped like a credential.

Known values are every `${ENV}` the config resolved and each notifier's secret fields; shapes
are URL userinfo, query strings and long tokens. Anything that may leave the process (logs,
errors, the outbox's last_error, command output) goes through `scrub` or `mask`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

MASK = "***"
MAX_ERROR = 500  # characters of an error text kept after masking
MIN_SECRET = 4  # shorter values would mask ordinary words

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_QUERY = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s?#]*)\?[^\s#\"']*")
_TOKEN = re.compile(r"[A-Za-z0-9_:\-]{24,}")


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each known secret (longest first) with ***."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """Known secrets, then URL credentials, queries and long tokens hidden; length capped."""
    text = scrub(text, secrets)
    text = _USERINFO.sub(rf"\1{MASK}@", text)
    text = _QUERY.sub(rf"\1?{MASK}", text)
    text = _TOKEN.sub(MASK, text)
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 3] + "..."


def mask_url(url: str) -> str:
    """`https://hooks.slack.com/services/T/B/X?k=v` -> `https://hooks.slack.com/***`."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    rest = f"/{MASK}" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{rest}"
