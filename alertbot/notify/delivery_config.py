"""The `delivery:` section of rules.yaml: retries, dead letters, fallback, rate limits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from alertbot.core.durations import Duration, PositiveDuration
from alertbot.core.strict import Strict


class RetryBackoff(Strict):
    """Delay between attempts: capped exponential growth with full jitter."""

    initial: PositiveDuration = 1.0
    max: PositiveDuration = 300.0
    multiplier: float = Field(default=2.0, ge=1.0)


class RateLimit(Strict):
    """At most `messages` messages per `per`; a backlog is batched into fewer messages."""

    messages: int = Field(ge=1)
    per: PositiveDuration


class DeliveryConfig(Strict):
    """How notifications reach notifiers without being lost."""

    max_attempts: int = Field(default=20, ge=1)
    max_age: PositiveDuration = 86_400.0  # a pair still failing this long after creation is dead
    backoff: RetryBackoff = RetryBackoff()
    timeout: PositiveDuration = 10.0  # per send
    fallback: str | None = None  # notifier told about dead letters
    rate_limits: dict[str, RateLimit] = {}  # overrides Notifier.rate per notifier name
    retention: Duration = 7 * 86_400.0  # sent and dead rows are kept this long
    drain_timeout: PositiveDuration = 10.0  # at shutdown, flush for at most this long
    max_retry_after: PositiveDuration = 900.0  # the longest Retry-After a service gets honoured
    synchronous: Literal["normal", "full"] = "normal"  # SQLite durability (see state/db.py)

    def problems(self, notifiers: Iterable[str]) -> list[tuple[str, str]]:
        """(key, message) for names that match no configured notifier."""
        return [(".".join(path), message) for path, message in self.name_problems(notifiers)]

    def name_problems(self, notifiers: Iterable[str]) -> list[tuple[tuple[str, ...], str]]:
        """(path, message) for names that match no configured notifier (`check` locates them)."""
        known = sorted(notifiers)
        listed = ", ".join(known) or "none"
        out: list[tuple[tuple[str, ...], str]] = []
        if self.fallback is not None and self.fallback not in known:
            msg = f"unknown notifier {self.fallback!r}; known: {listed}"
            out.append((("delivery", "fallback"), msg))
        for name in self.rate_limits:
            if name not in known:
                msg = f"unknown notifier {name!r}; known: {listed}"
                out.append((("delivery", "rate_limits", name), msg))
        return out
