"""The one secret masker: known secret values first, then anything shaped like a credential.

Known values are every `${ENV}` the config resolved and each notifier's secret fields, with the
parts of a secret URL a service may echo on its own (userinfo, token-like path segments, the
path, query values). Loading a config `remember`s them for the whole process, so every string
that leaves it (log records, text and JSON, the outbox's last_error, dead-letter and refusal
notices, command output) is scrubbed of them by `mask` or the log formatters, whoever wrote it.
Shapes caught without knowing the value: URL userinfo, query strings and long tokens.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

MASK = "***"
MAX_ERROR = 500  # characters of an error text kept after masking
MIN_SECRET = 4  # shorter values would mask ordinary words
MIN_SEGMENT = 8  # a URL path segment this long may be a token (/services/T0/B0/XXXXXXXX)
_known: set[str] = set()  # every secret this process's config resolved (see remember)

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_QUERY = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s?#]*)\?[^\s#\"']*")
_KV_PASSWORD = re.compile(r"(?:^|\s)password\s*=\s*('[^']*'|\S+)")
_DSN_SCHEMES = {"postgres", "postgresql"}  # a database URL: only its password is secret
_TOKEN = re.compile(r"[A-Za-z0-9_:\-]{24,}")


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each known secret (longest first) with ***."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def remember(secrets: Iterable[str]) -> None:
    """Add secrets (and the parts of secret URLs) to those scrubbed from everything, for good."""
    for secret in secrets:
        _known.update(p for p in secret_parts(secret) if len(p) >= MIN_SECRET)


def scrub_known(text: str) -> str:
    """Every remembered secret out of `text` (log lines and command output keep long ids)."""
    return scrub(text, _known)


def secret_parts(secret: str) -> set[str]:
    """A secret and, for a URL, the pieces a service may echo without the rest of it."""
    parts = {secret}
    url = urlsplit(secret)
    if not (url.scheme and url.netloc):
        return parts | _kv_password(secret)
    if url.scheme in _DSN_SCHEMES:  # user, host and dbname are not secret; words like them abound
        return parts | {p for p in (url.password, unquote(url.password or "")) if p}
    parts.update(p for p in (url.username, url.password) if p)
    if len(url.path) > 1:
        parts.add(url.path)
        parts.update(s for s in url.path.split("/") if len(s) >= MIN_SEGMENT)
    parts.update(value for _, value in parse_qsl(url.query) if value)
    parts.update({unquote(p) for p in parts})
    return parts


def _kv_password(dsn: str) -> set[str]:
    """The password of a key=value connection string (`host=db password=s3cret`)."""
    found = _KV_PASSWORD.search(dsn)
    return {found.group(1).strip("'")} if found else set()


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """Known secrets, then URL credentials, queries and long tokens hidden; length capped."""
    text = scrub(text, [*secrets, *_known])
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
