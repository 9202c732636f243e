"""Aggregate conditions over time: rate (count within), absence (dead man's switch), change."""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from alertbot.core.durations import format_duration
from alertbot.core.model import Event
from alertbot.rules.config import RuleConfig, parse_comparison
from alertbot.rules.lifecycle import FIRING, INACTIVE, Alert, Key
from alertbot.rules.runtime import INF, LevelRule, RuleRuntime, Settings, Sink

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class CountRule(RuleRuntime):
    """At least `count` matching events within `within`; resolves when the window drains."""

    mode = "count"
    aggregate = True

    def __init__(self, cfg: RuleConfig, settings: Settings, sink: Sink) -> None:
        super().__init__(cfg, settings, sink)
        assert cfg.count is not None  # by validation
        assert cfg.within is not None
        self.count, self.within = cfg.count, cfg.within
        self.windows: dict[Key, deque[float]] = {}

    def describe(self) -> str:
        """Default message."""
        what = f"{', '.join(self.cfg.on)} events" + (
            f" with {self.cfg.when}" if self.cfg.when else ""
        )
        return f"{self.count} or more {what} within {format_duration(self.within)}"

    def handle(self, event: Event, now: float) -> None:
        """Count a matching event; only the newest `count` times are kept."""
        self.stats.events += 1
        if self.when is not None and not self.test(self.when, event.data):
            return
        self.stats.matched += 1
        key = self.keys[event.kind](event)
        window = self.windows.get(key)
        if window is None:
            window = self.windows[key] = deque(maxlen=self.count)
        window.append(now)
        self.dirty.add(key)
        holds = self._holds(window, now)
        alert = self.alerts.get(key)
        if alert is None and not holds:
            return
        alert = alert or self.new_alert(key, event)
        alert.event = event
        self.observe(alert, holds, now)
        self.sink.wake(window[0] + self.within)

    def _holds(self, window: deque[float], now: float) -> bool:
        horizon = now - self.within
        while window and window[0] <= horizon:
            window.popleft()
        return len(window) >= self.count

    def advance(self, now: float) -> float:
        """Windows drain with time: resolve alerts whose rate fell below `count`."""
        due = INF
        for key, window in list(self.windows.items()):
            holds = self._holds(window, now)
            alert = self.alerts.get(key)
            if alert is not None and alert.state != INACTIVE:
                self.observe(alert, holds, now)
            if not window:
                del self.windows[key]
                self.dirty.add(key)
            elif alert is not None and alert.state != INACTIVE:
                due = min(due, window[0] + self.within)
        return min(due, super().advance(now))

    def context(self, alert: Alert, now: float) -> dict[str, Any]:
        """`count`: matching events in the window now."""
        window = self.windows.get(alert.key)
        return {"count": len(window) if window else 0}

    def state_keys(self) -> Iterable[Key]:
        """Identities with an alert or a window."""
        return {*self.alerts, *self.windows}

    def export_key(self, key: Key) -> dict[str, Any] | None:
        """The alert and the window's event times."""
        value = super().export_key(key) or {}
        window = self.windows.get(key)
        if window:
            value["window"] = list(window)
        return value or None

    def drop_key(self, key: Key) -> Alert | None:
        """The alert and the window go."""
        self.windows.pop(key, None)
        return super().drop_key(key)

    def import_key(self, key: Key, value: dict[str, Any]) -> None:
        """Inverse of export_key."""
        super().import_key(key, value)
        if "window" in value:
            times = (float(t) for t in value["window"])
            self.windows[key] = deque(times, maxlen=self.count)


class AbsentRule(RuleRuntime):
    """No matching event for `absent`: fires per identity (a dead man's switch), resolves on one."""

    mode = "absent"
    aggregate = True

    def __init__(self, cfg: RuleConfig, settings: Settings, sink: Sink) -> None:
        super().__init__(cfg, settings, sink)
        assert cfg.absent is not None  # by validation
        self.absent = cfg.absent
        self.last_seen: dict[Key, float] = {}
        self.last_event: dict[Key, Event] = {}

    def describe(self) -> str:
        """Default message."""
        what = f"{', '.join(self.cfg.on)} event" + (
            f" with {self.cfg.when}" if self.cfg.when else ""
        )
        return f"no {what} for {format_duration(self.absent)}"

    def start(self, now: float) -> None:
        """An identity without labels is expected from the start."""
        if not self.label_fields:
            if () not in self.last_seen:
                self.dirty.add(())
            self.last_seen.setdefault((), now)
            self.last_event.setdefault((), Event(self.kinds[0], now, {}, -1))
            self.sink.wake(self.last_seen[()] + self.absent)

    def handle(self, event: Event, now: float) -> None:
        """A sign of life: restart the identity's timer and resolve it if it fired."""
        self.stats.events += 1
        if self.when is not None and not self.test(self.when, event.data):
            return
        self.stats.matched += 1
        key = self.keys[event.kind](event)
        self.last_seen[key] = now
        self.last_event[key] = event
        self.dirty.add(key)
        alert = self.alerts.get(key)
        if alert is not None:
            alert.event = event
            self.observe(alert, False, now)
        self.sink.wake(now + self.absent)

    def advance(self, now: float) -> float:
        """Fire identities silent for `absent` or longer."""
        due = INF
        for key, seen in self.last_seen.items():
            holds = now - seen >= self.absent
            alert = self.alerts.get(key)
            if alert is None and holds:
                alert = self.new_alert(key, self.last_event[key])
            if alert is not None:
                self.observe(alert, holds, now)
            if not holds:
                due = min(due, seen + self.absent)
        return min(due, super().advance(now))

    def context(self, alert: Alert, now: float) -> dict[str, Any]:
        """`silent_for`: how long no matching event came (until the one that resolved it)."""
        if alert.state != FIRING and alert.ends_at is not None:
            silent = alert.ends_at - alert.starts_at + self.absent
        else:
            silent = now - self.last_seen.get(alert.key, now)
        return {"silent_for": format_duration(silent)}

    def state_keys(self) -> Iterable[Key]:
        """Identities with an alert or a last-seen time."""
        return {*self.alerts, *self.last_seen}

    def export_key(self, key: Key) -> dict[str, Any] | None:
        """The alert and the last-seen time (not the event)."""
        value = super().export_key(key) or {}
        if key in self.last_seen:
            value["last_seen"] = self.last_seen[key]
        return value or None

    def drop_key(self, key: Key) -> Alert | None:
        """The alert and the timer go: an identity that moved away never fires here."""
        self.last_seen.pop(key, None)
        self.last_event.pop(key, None)
        return super().drop_key(key)

    def import_key(self, key: Key, value: dict[str, Any]) -> None:
        """Inverse of export_key; restored identities render with their labels only."""
        super().import_key(key, value)
        if "last_seen" in value:
            at = float(value["last_seen"])
            self.last_seen[key] = at
            fields = dict(zip(self.label_fields, key, strict=False))
            self.last_event[key] = Event(self.kinds[0], at, fields, -1)


class Window:
    """Sliding min and max of (time, value) samples: amortised O(1) per sample."""

    __slots__ = ("highs", "last", "lows")

    def __init__(self) -> None:
        self.highs: deque[tuple[float, float]] = deque()
        self.lows: deque[tuple[float, float]] = deque()
        self.last = 0.0

    def push(self, at: float, value: float) -> None:
        """Add a sample."""
        self.last = value
        highs, lows, sample = self.highs, self.lows, (at, value)  # one tuple for both sides
        while highs and highs[-1][1] <= value:
            highs.pop()
        highs.append(sample)
        while lows and lows[-1][1] >= value:
            lows.pop()
        lows.append(sample)

    def to_json(self) -> dict[str, Any]:
        """JSON-able samples."""
        return {"highs": [list(s) for s in self.highs], "lows": [list(s) for s in self.lows],
                "last": self.last}  # fmt: skip

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Window:
        """Inverse of to_json."""
        window = cls()
        window.highs.extend((float(t), float(v)) for t, v in raw["highs"])
        window.lows.extend((float(t), float(v)) for t, v in raw["lows"])
        window.last = float(raw["last"])
        return window

    def prune(self, horizon: float) -> None:
        """Drop samples older than `horizon` (the newest always stays)."""
        for side in (self.highs, self.lows):
            while len(side) > 1 and side[0][0] <= horizon:
                side.popleft()


class ChangeRule(LevelRule):
    """`change: {of, within, by|by_pct}`: the field moved that much from the window's extreme."""

    mode = "change"
    aggregate = True

    def __init__(self, cfg: RuleConfig, settings: Settings, sink: Sink) -> None:
        super().__init__(cfg, settings, sink)
        change = cfg.change
        assert change is not None  # by validation
        self.of, self.within, self.pct = change.of, change.within, change.by_pct is not None
        op, self.threshold = parse_comparison(change.by_pct or change.by or "")
        self.op, self.falling = _OPS[op], op.startswith("<")
        self.windows: dict[Key, Window] = {}
        self.when_held: dict[Key, bool] = {}

    def describe(self) -> str:
        """Default message."""
        change = self.cfg.change
        assert change is not None  # by validation
        amount = f"{change.by_pct}%" if change.by_pct else str(change.by)
        return f"{self.of} changed {amount} within {format_duration(self.within)}"

    def handle(self, event: Event, now: float) -> None:
        """Filter first: only an event that passes `when` is a sample (window, key, state)."""
        self.stats.events += 1
        value = event.data.get(self.of)
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.stats.missing_field += 1
            self._warn_once(self.of, "field {} is missing or not a number")
            return
        if self.when is not None and not self.test(self.when, event.data):
            if self.alerts:  # an alert of this identity stops holding; nothing else is kept
                self._filtered_out(event, now)
            return
        key = self.keys[event.kind](event)
        window = self.windows.get(key)
        if window is None:
            window = self.windows[key] = Window()
        window.push(now, float(value))
        self.when_held[key] = True
        self.dirty.add(key)
        holds = self._moved(window, now)
        if holds:
            self.stats.matched += 1
        alert = self.alerts.get(key)
        if alert is None and not holds:
            return
        alert = alert or self.new_alert(key, event)
        alert.event = event
        self.observe(alert, self.holds_on(alert, event, holds), now)
        self.sink.wake(now + self.within)

    def _filtered_out(self, event: Event, now: float) -> None:
        """`when` is false for an identity with an alert: the alert stops holding."""
        key = self.keys[event.kind](event)
        alert = self.alerts.get(key)
        if alert is None:
            return
        self.when_held[key] = False
        self.dirty.add(key)
        alert.event = event
        self.observe(alert, self.holds_on(alert, event, False), now)
        self.sink.wake(now + self.within)

    def _moved(self, window: Window, now: float) -> bool:
        delta = self.delta(window, now)
        return delta is not None and self.op(delta, self.threshold)

    def delta(self, window: Window, now: float) -> float | None:
        """Change from the window's highest (for falls) or lowest (for rises)."""
        window.prune(now - self.within)
        ref = (window.highs if self.falling else window.lows)[0][1]
        change = window.last - ref
        if not self.pct:
            return change
        return None if ref == 0 else change / abs(ref) * 100.0

    def advance(self, now: float) -> float:
        """The extreme can leave the window: re-evaluate active alerts."""
        due = INF
        for key, alert in list(self.alerts.items()):
            window = self.windows.get(key)
            if alert.state == INACTIVE or window is None:
                continue
            if not (alert.state == FIRING and self.resolve_when is not None):
                holds = self.when_held.get(key, False) and self._moved(window, now)
                self.observe(alert, holds, now)
            extreme = window.highs if self.falling else window.lows
            due = min(due, extreme[0][0] + self.within)
        return min(due, super().advance(now))

    def context(self, alert: Alert, now: float) -> dict[str, Any]:
        """`change` (absolute or percent, as configured) and `reference` (the extreme)."""
        window = self.windows.get(alert.key)
        if window is None:  # nothing seen yet (a `check` render): no change from the value
            value = alert.event.data.get(self.of)
            return {"change": 0.0, "reference": value if isinstance(value, float | int) else 0.0}
        ref = (window.highs if self.falling else window.lows)[0][1]
        return {"change": self.delta(window, now), "reference": ref}

    def state_keys(self) -> Iterable[Key]:
        """Identities with an alert or a window."""
        return {*self.alerts, *self.windows}

    def export_key(self, key: Key) -> dict[str, Any] | None:
        """The alert, the window's samples and whether `when` held at the last sample."""
        value = super().export_key(key) or {}
        window = self.windows.get(key)
        if window is not None:
            value["window"] = window.to_json()
            value["when_held"] = self.when_held.get(key, False)
        return value or None

    def drop_key(self, key: Key) -> Alert | None:
        """The alert and the samples go."""
        self.windows.pop(key, None)
        self.when_held.pop(key, None)
        return super().drop_key(key)

    def import_key(self, key: Key, value: dict[str, Any]) -> None:
        """Inverse of export_key."""
        super().import_key(key, value)
        if "window" in value:
            self.windows[key] = Window.from_json(value["window"])
            self.when_held[key] = bool(value.get("when_held", False))
