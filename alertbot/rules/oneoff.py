"""One-off rules (a fill, an order filled): one notification per occurrence, never a resolve.

Occurrence ids (a fill's id) are remembered for `dedup_window`, across restarts too, so a
snapshot's fills or a catch-up round are never told twice.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from alertbot.core.model import Event
from alertbot.rules.config import RuleConfig
from alertbot.rules.identity import key_fn
from alertbot.rules.lifecycle import FIRING, Alert, Key
from alertbot.rules.runtime import (
    INF,
    RuleRuntime,
    Settings,
    Sink,
    fingerprint,
    label_text,
    own_ids,
)

MAX_SEEN = 100_000  # occurrence ids remembered per rule (the source de-duplicates ids too)


class EventRule(RuleRuntime):
    """One-off events (a fill): one notification per occurrence identity, never a resolve."""

    mode = "event"

    def __init__(self, cfg: RuleConfig, settings: Settings, sink: Sink) -> None:
        super().__init__(cfg, settings, sink)
        self.id_keys = {k: key_fn(own_ids(k)) for k in self.kinds}  # occurrence ids
        self.seen: OrderedDict[tuple[Any, ...], float] = OrderedDict()
        self.untold: dict[Key, Alert] = {}  # accepted occurrences waiting in a group
        self._untold_keys: dict[int, Key] = {}  # id(alert) -> its key in `untold`
        self._serial = 0  # keys for occurrences of kinds without an id

    def describe(self) -> str:
        """Default message of a one-off."""
        return f"{', '.join(self.cfg.on)} event" + (f": {self.cfg.when}" if self.cfg.when else "")

    def handle(self, event: Event, now: float) -> None:
        """Notify once per occurrence; kinds without an id notify every matching event."""
        self.stats.events += 1
        if self.when is not None and not self.test(self.when, event.data):
            return
        self.stats.matched += 1
        kind = event.kind
        key = self.keys[kind](event)
        ids = self.id_keys[kind](event)
        if ids:
            dedup = (kind, key, ids)
            if dedup in self.seen:
                self.stats.duplicates += 1
                return
            self.seen[dedup] = now
            if len(self.seen) > MAX_SEEN:  # a flood of ids: the oldest go before dedup_window
                self.dirty.add(self.seen.popitem(last=False)[0])
        else:  # no id: every match is its own occurrence; the key only names it while untold
            self._serial += 1
            dedup = (kind, key, ("#", now, self._serial))
        labels = {name: label_text(v) for name, v in zip(self.fields[kind], key, strict=True)}
        labels.update(self.cfg.labels)
        alert = Alert(self.name, key, labels, fingerprint(self.name, labels, f"{kind}{ids}"), event)
        alert.state, alert.starts_at = FIRING, now
        self._remember(dedup, alert)
        self.sink.occurrence(self, alert, now)

    def _remember(self, dedup: Key, alert: Alert) -> None:
        """Keep an accepted occurrence until its group tells it (it persists meanwhile)."""
        self.untold[dedup] = alert
        self._untold_keys[id(alert)] = dedup
        self.dirty.add(dedup)

    def settled(self, alert: Alert) -> None:
        """The occurrence left its group: nothing to retell after a restart any more."""
        dedup = self._untold_keys.pop(id(alert), None)
        if dedup is not None and self.untold.get(dedup) is alert:
            del self.untold[dedup]
            self.dirty.add(dedup)

    def waiting(self) -> Iterable[Alert]:
        """Occurrences accepted and not told yet, oldest first."""
        return sorted(self.untold.values(), key=lambda alert: alert.starts_at)

    def advance(self, now: float) -> float:
        """Forget occurrence ids older than dedup_window."""
        horizon = now - self.settings.dedup_window
        seen = self.seen
        while seen and next(iter(seen.values())) < horizon:
            self.dirty.add(seen.popitem(last=False)[0])
        return INF

    def encode_key(self, key: Key) -> str:
        """(kind, identity, occurrence ids) as JSON text."""
        kind, labels, ids = key
        return json.dumps([kind, list(labels), list(ids)], separators=(",", ":"))

    def decode_key(self, text: str) -> Key:
        """Inverse of encode_key."""
        kind, labels, ids = json.loads(text)
        return (kind, tuple(labels), tuple(ids))

    def state_keys(self) -> Iterable[Key]:
        """Remembered occurrences (no re-notifying a snapshot's fills) and untold ones."""
        return list({**dict.fromkeys(self.seen), **dict.fromkeys(self.untold)})

    def export_key(self, key: Key) -> dict[str, Any] | None:
        """When the occurrence was seen, and the alert while it waits (None once forgotten)."""
        value: dict[str, Any] = {}
        at = self.seen.get(key)
        if at is not None:
            value["seen"] = at
        alert = self.untold.get(key)
        if alert is not None:
            value["untold"] = alert.to_json()
        return value or None

    def import_key(self, key: Key, value: dict[str, Any]) -> None:
        """Inverse of export_key; an occurrence already accepted here stays as it is."""
        if key in self.seen or key in self.untold:
            return  # live state is newer than a saved row (a take-over after a quick regain)
        if "seen" in value:
            self.seen[key] = float(value["seen"])
        raw = value.get("untold")
        if raw is not None:
            self._remember(key, Alert.from_json(self.name, raw))
            self.dirty.discard(key)  # as saved: nothing changed

    def drop_key(self, key: Key) -> Alert | None:
        """The remembered id goes, and the occurrence if it still waits (the new owner tells it)."""
        self.dirty.discard(key)
        self.seen.pop(key, None)
        alert = self.untold.pop(key, None)
        if alert is not None:
            self._untold_keys.pop(id(alert), None)
        return alert

    def touched(self, alert: Alert) -> None:
        """One-offs keep no alert state."""

    def restored(self) -> None:
        """Oldest first again, as `advance` forgets from the front."""
        for key, _ in sorted(self.seen.items(), key=lambda item: item[1]):
            self.seen.move_to_end(key)
