"""Shared HTTP plumbing for notifiers: one client each, bounded time, status -> SendResult."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from alertbot import __version__
from alertbot.core.secrets import mask_url
from alertbot.notify.base import Notifier, SendResult

USER_AGENT = f"alertbot/{__version__}"
RETRYABLE = frozenset({408, 425, 429})  # plus every 5xx


class _MaskUrls(logging.Filter):
    """httpx logs each request's full URL at INFO; URLs carry tokens, so mask them."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite URL arguments of a record in place; never drop it."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                mask_url(str(a)) if isinstance(a, httpx.URL) else a for a in record.args
            )
        return True


def _install_filter() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _MaskUrls) for f in logger.filters):
        logger.addFilter(_MaskUrls())


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date.

    Strict: `inf`, `nan`, negative numbers and garbage are no answer (None: delivery backs off
    as usual); delivery also caps what it honours at `delivery.max_retry_after`.
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def classify(
    response: httpx.Response, clock: Callable[[], float] = time.time, detail: str = ""
) -> SendResult:
    """2xx ok; 408/425/429/5xx retryable (honouring Retry-After); other statuses permanent."""
    code = response.status_code
    if 200 <= code < 300:
        return SendResult.success(f"HTTP {code}")
    text = f"HTTP {code}: {detail or response.text[:200].strip()}".rstrip(": ")
    if code in RETRYABLE or code >= 500:
        wait = parse_retry_after(response.headers.get("Retry-After"), clock())
        return SendResult.retry(text, retry_after=wait)
    return SendResult.fail(text)


class HttpNotifier(Notifier):
    """A notifier that POSTs with httpx; the client is created on first use, closed by close()."""

    _client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        """The notifier's own client (connection reuse; TLS verified; no redirects)."""
        if self._client is None:
            _install_filter()
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout), headers={"User-Agent": USER_AGENT}
            )
        return self._client

    async def post(
        self, url: str, *, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response | SendResult:
        """The response, or a retryable SendResult for timeouts and connection errors."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self.client().post(url, headers=headers, **kwargs)
        except (TimeoutError, httpx.TimeoutException):
            return SendResult.retry(f"no answer within {self.timeout:g}s")
        except httpx.HTTPError as exc:
            return SendResult.retry(self.scrub(f"request failed: {type(exc).__name__}: {exc}"))

    def verdict(self, response: httpx.Response, detail: str = "") -> SendResult:
        """classify() with secrets scrubbed from the detail (a server may echo the URL)."""
        result = classify(response, detail=detail)
        return replace(result, detail=self.scrub(result.detail))

    async def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
