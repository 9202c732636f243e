"""Notifiers delivered through Apprise: one Apprise object per target, our own pacing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from alertbot.notify.base import Notifier, SendResult

if TYPE_CHECKING:
    from alertbot.core.model import Notification


class _Collect(logging.Handler):
    """Keeps Apprise's messages while it parses a URL (they may show parts of a password)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Store, never print."""
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _quiet_apprise() -> Iterator[_Collect]:
    """Apprise logs a half-masked URL when it refuses one (`p...w`): keep that out of our logs."""
    logger = logging.getLogger("apprise")
    handler, propagate = _Collect(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def load_plugin(url: str, timeout: float) -> tuple[Any, float]:
    """Apprise's plugin object for `url` and the pacing (seconds) Apprise would apply to it."""
    import apprise

    with _quiet_apprise() as seen:
        plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        reasons = [m for m in seen.messages if "URL" not in m]  # not the half-masked URL
        why = reasons[0] if reasons else "check its scheme, host and parameters"
        raise ValueError(f"Apprise cannot use this URL: {why}")
    pacing = float(getattr(plugin, "request_rate_per_sec", 0) or 0)
    plugin.request_rate_per_sec = 0  # the outbox paces sends through `rate`; Apprise would sleep
    plugin.socket_connect_timeout = timeout
    plugin.socket_read_timeout = timeout
    return plugin, pacing


class AppriseNotifier(Notifier):
    """Base for types that hand a title and a body to an Apprise URL held in `config.url`."""

    body_format = "text"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        import apprise

        url: SecretStr = getattr(self.config, "url")  # noqa: B009 - every subclass model has it
        self._plugin, pacing = load_plugin(url.get_secret_value(), self.timeout)
        self._apprise = apprise.Apprise()
        self._apprise.add(self._plugin)
        if self.config.rate is None and pacing > 0:
            self.rate = (1, pacing)

    @property
    def deadline(self) -> float:
        """Connect, greet, authenticate and send: a few round trips."""
        return 2 * self.timeout + 5.0

    def texts(self, batch: Sequence[Notification]) -> tuple[str, str]:
        """(title, body) in `body_format`."""
        raise NotImplementedError

    async def send(self, batch: Sequence[Notification]) -> SendResult:
        """One Apprise notify; its log explains a failure (masked)."""
        title, body = self.texts(batch)
        try:
            async with asyncio.timeout(self.deadline):
                result = await self._apprise.async_notify(
                    title=title, body=body, body_format=self.body_format, timeout=self.deadline
                )
        except TimeoutError:
            return SendResult.retry(f"no answer within {self.deadline:g}s")
        if result:
            return SendResult.success()
        return SendResult.retry(self.scrub(_reason(result)))

    def describe(self) -> str:
        """Apprise's own privacy form of the URL (passwords and tokens masked)."""
        return f"{self.type} {self._plugin.url(privacy=True)}"


def _reason(result: Any) -> str:
    """The last warning or error Apprise captured for this send."""
    try:
        entries = [e for e in result.logs() if e.level in ("WARNING", "ERROR", "CRITICAL")]
    except (AttributeError, TypeError):  # an older Apprise returns a bare bool
        entries = []
    return entries[-1].message if entries else "Apprise reported a failure"
