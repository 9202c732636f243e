"""A token bucket per notifier: how many messages a service allows per period."""

from __future__ import annotations


class TokenBucket:
    """`messages` per `per` seconds, bursting up to `messages`; time is passed in, never read."""

    def __init__(self, messages: int, per: float, now: float) -> None:
        if messages < 1 or per <= 0:
            raise ValueError("a rate limit needs messages >= 1 and per > 0")
        self.capacity = float(messages)
        self.rate = messages / per  # tokens per second
        self.tokens = self.capacity
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait_time(self, now: float) -> float:
        """Seconds until one message may be sent (0 when it may be sent now)."""
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        """Spend one token (call after wait_time returned 0)."""
        self._refill(now)
        self.tokens -= 1.0
