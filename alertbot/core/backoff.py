"""Reconnect delays: capped exponential growth with full jitter, reset after a stable period."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delay before attempt n is uniform in [0, min(max, initial * multiplier**n)] (full jitter).

    Full jitter spreads many clients that lost the same server, so a deploy (close 1012) does not
    bring every bot back in the same second. `rng` is injectable so tests are deterministic.
    """

    initial: float = 1.0
    max: float = 120.0
    multiplier: float = 2.0
    stable_after: float = 30.0
    rng: Callable[[], float] = field(default=random.random)
    attempts: int = 0
    penalty: float = 1.0  # raised after a 1008 "slow down" close

    def ceiling(self) -> float:
        """Upper bound of the next delay."""
        return min(self.max, self.initial * self.penalty * self.multiplier**self.attempts)

    def next_delay(self) -> float:
        """Delay to wait before the next attempt; counts the attempt."""
        delay = self.rng() * self.ceiling()
        self.attempts += 1
        return delay

    def slow_down(self) -> None:
        """The server said we were too fast (close 1008): wait longer from now on."""
        self.penalty = min(self.penalty * 4.0, self.max / self.initial)

    def connected_for(self, seconds: float) -> None:
        """A connection stayed up `seconds`: reset once it counts as stable."""
        if seconds >= self.stable_after:
            self.attempts = 0
            self.penalty = 1.0
