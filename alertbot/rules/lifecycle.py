"""Alert lifecycle per identity: inactive -> pending -> firing -> resolved, with flap holding."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from alertbot.core.model import Event
from alertbot.rules.config import FlappingConfig

INACTIVE, PENDING, FIRING = "inactive", "pending", "firing"
Key = tuple[Any, ...]


@dataclass(slots=True, eq=False)
class Alert:
    """Mutable state of one alert identity (rule + labels); owned by its rule's runtime."""

    rule: str
    key: Key
    labels: dict[str, str]
    fingerprint: str
    event: Event
    state: str = INACTIVE
    holds: bool = False  # the condition as last evaluated
    changed_at: float = 0.0  # when `holds` last changed
    since: float = 0.0  # pending since
    starts_at: float = 0.0  # firing since
    ends_at: float | None = None
    notified: str | None = None  # the last status the user was told: firing / resolved
    last_notified_at: float = 0.0
    queued: bool = False  # a notification for it waits in a group
    flapping: bool = False
    flips: deque[float] = field(default_factory=deque)  # times it fired or resolved

    def to_json(self) -> dict[str, Any]:
        """JSON-safe state of the identity, for persistence and hot reload."""
        event = self.event
        return {
            "key": list(self.key),
            "labels": self.labels,
            "fingerprint": self.fingerprint,
            "event": {"kind": event.kind, "at": event.at, "data": event.data, "conn": event.conn},
            "state": self.state,
            "holds": self.holds,
            "changed_at": self.changed_at,
            "since": self.since,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "notified": self.notified,
            "last_notified_at": self.last_notified_at,
            "flapping": self.flapping,
            "flips": list(self.flips),
        }

    @classmethod
    def from_json(cls, rule: str, raw: dict[str, Any]) -> Alert:
        """Inverse of to_json."""
        ev = raw["event"]
        event = Event(ev["kind"], float(ev["at"]), dict(ev["data"]), int(ev["conn"]))
        alert = cls(rule, tuple(raw["key"]), dict(raw["labels"]), str(raw["fingerprint"]), event)
        for name in ("state", "holds", "changed_at", "since", "starts_at", "notified"):
            setattr(alert, name, raw[name])
        alert.ends_at = raw.get("ends_at")  # absent in version 1 documents
        alert.last_notified_at = float(raw["last_notified_at"])
        alert.flapping = bool(raw["flapping"])
        alert.flips = deque(float(t) for t in raw["flips"])
        return alert


class Lifecycle:
    """The state machine of one rule: `for` hold-down, resolve, and flap holding."""

    __slots__ = ("changes", "hold", "stable", "window")

    def __init__(self, hold: float, flapping: FlappingConfig) -> None:
        self.hold = hold
        self.changes = flapping.changes
        self.window = flapping.within
        self.stable = flapping.stable

    def observe(self, alert: Alert, holds: bool, now: float) -> str | None:
        """Apply the condition's current value; return 'firing'/'resolved' when that happens."""
        if holds != alert.holds:
            alert.holds = holds
            alert.changed_at = now
        state = alert.state
        if state == FIRING:
            return self._firing(alert, holds, now)
        if not holds:
            alert.state = INACTIVE
            return None
        if state == INACTIVE:
            alert.state = PENDING
            alert.since = now
        if now - alert.since >= self.hold:
            return self._fire(alert, now)
        return None

    def due(self, alert: Alert) -> float:
        """When time alone could change this alert (inf when only an event can)."""
        if alert.state == PENDING:
            return alert.since + self.hold
        if alert.flapping:
            return alert.changed_at + self.stable
        return float("inf")

    @staticmethod
    def worth_keeping(alert: Alert) -> bool:
        """Active, or its flips or an untold resolve still matter after a restart."""
        return alert.state != INACTIVE or bool(alert.flips) or alert.notified == FIRING

    def forgettable(self, alert: Alert, now: float) -> bool:
        """An inactive alert can be dropped once its flip history no longer matters."""
        if alert.state != INACTIVE or alert.queued:
            return False
        self._prune(alert, now)
        return not alert.flips

    def _fire(self, alert: Alert, now: float) -> str:
        alert.state = FIRING
        alert.starts_at = now
        alert.ends_at = None
        self._flip(alert, now)
        return FIRING

    def _firing(self, alert: Alert, holds: bool, now: float) -> str | None:
        if alert.flapping:
            if now - alert.changed_at < self.stable:
                return None
            alert.flapping = False
            return None if holds else self._resolve(alert, now)
        if holds:
            return None
        if self.changes and self._flip_count(alert, now) + 1 >= self.changes:
            alert.flapping = True  # hold as firing until the condition is stable
            return None
        return self._resolve(alert, now)

    def _resolve(self, alert: Alert, now: float) -> str:
        alert.state = INACTIVE
        alert.ends_at = now
        self._flip(alert, now)
        return "resolved"

    def _flip(self, alert: Alert, now: float) -> None:
        if self.changes:
            alert.flips.append(now)
            self._prune(alert, now)

    def _flip_count(self, alert: Alert, now: float) -> int:
        self._prune(alert, now)
        return len(alert.flips)

    def _prune(self, alert: Alert, now: float) -> None:
        flips, horizon = alert.flips, now - self.window
        while flips and flips[0] <= horizon:
            flips.popleft()
