"""message_id gap detection for one connection, tolerant of late `subscribed` answers."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_OPEN_GAP = 1000  # more missing ids than this: resync at once (as the dYdX front end does)


@dataclass
class GapDetector:
    """Tracks the highest message_id seen and the holes below it, each with a deadline.

    The Indexer has one counter per connection; a `subscribed` snapshot can arrive after data
    messages with higher ids, so a hole is only a gap if it is still open after `timeout`.
    """

    timeout: float
    highest: int = -1
    missing: dict[int, float] = field(default_factory=dict)  # id -> deadline

    def reset(self) -> None:
        """Forget everything: a new connection starts counting from 0."""
        self.highest = -1
        self.missing.clear()

    def see(self, message_id: int, now: float) -> bool:
        """Record an id; True when the open holes have grown past what can be waited for."""
        if message_id > self.highest:
            if message_id > self.highest + 1 and self.highest >= 0:
                deadline = now + self.timeout
                for hole in range(
                    self.highest + 1, min(message_id, self.highest + 2 + MAX_OPEN_GAP)
                ):
                    self.missing[hole] = deadline
            self.highest = message_id
            return len(self.missing) > MAX_OPEN_GAP
        if self.missing:
            self.missing.pop(message_id, None)
        return False

    def overdue(self, now: float) -> list[int]:
        """Ids whose wait has expired (sorted); they are dropped from the open set."""
        late = sorted(i for i, deadline in self.missing.items() if deadline <= now)
        for i in late:
            del self.missing[i]
        return late
