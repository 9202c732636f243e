"""Compiled rules: the per-event hot path for level (state) rules and one-off (event) rules."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from alertbot.core.durations import format_duration
from alertbot.core.events import natural_key
from alertbot.core.model import AlertChange, Event, Severity
from alertbot.rules.config import FlappingConfig, RuleConfig, expand_kinds
from alertbot.rules.expr import Expression, OverBudget, compile_expression
from alertbot.rules.identity import AlertTable, first_label, key_fn, key_of
from alertbot.rules.lifecycle import FIRING, INACTIVE, PENDING, Alert, Key, Lifecycle
from alertbot.rules.templates import Template

log = logging.getLogger(__name__)
INF = float("inf")
Condition = Callable[[Mapping[str, Any]], Any]  # a compiled `when` (see expr.compile_expression)
# Fields that make each occurrence distinct (one-off dedup; dropped from aggregate identities).
OWN_IDS: dict[str, tuple[str, ...]] = {
    "fill": ("id",),
    "trade": ("id",),
    "transfer": ("id",),
    "order": ("order_id",),
    "candle": ("started_at",),
    "block": ("height",),
}
STATE_KINDS = frozenset(
    {"account", "market", "orderbook", "position.changed", "candle", "source.polling"}
)
HISTORY_MAX = 10_000  # transitions kept per rule until drained (replays never drain)
MAX_STRIKES = 3  # evaluations over budget before a rule is disabled (with one notice)
DEFAULT_TITLE = "{{ alert.rule }}{% if alert.label_text %} on {{ alert.label_text }}{% endif %}"


class Sink(Protocol):
    """What a rule tells the engine: a lifecycle transition, a one-off, or a timer to honour."""

    def transition(self, rule: RuleRuntime, alert: Alert, status: str, now: float) -> None: ...
    def occurrence(self, rule: RuleRuntime, alert: Alert, now: float) -> None: ...
    def wake(self, at: float) -> None: ...
    def disable(self, rule: RuleRuntime, reason: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Settings:
    """A rule's effective notification settings (rule value, else defaults)."""

    severity: Severity
    notify: tuple[str, ...]
    repeat: float
    send_resolved: bool
    group_wait: float
    group_interval: float
    flapping: FlappingConfig
    dedup_window: float
    # a delivery policy, not a shape of state: out of repr, so out of the digest (state is kept)
    muted_resolve: str = field(default="hold", repr=False)


@dataclass(slots=True)
class RuleStats:
    """Per-rule counters for status pages and the benchmark."""

    events: int = 0  # events of the rule's kinds seen
    matched: int = 0  # events for which `when` held
    missing_field: int = 0  # evaluations that hit a missing field (condition taken as false)
    errors: int = 0  # evaluations that raised anything else (condition taken as false)
    over_budget: int = 0  # evaluations stopped by the size budget (the event is skipped)
    duplicates: int = 0  # one-offs already notified for the same identity
    notifications: int = 0  # alerts included in emitted notifications
    suppressed: int = 0  # alerts held back by a silence or an inhibition


def rule_mode(cfg: RuleConfig) -> str:
    """level, event, count, absent or change: which runtime evaluates this rule."""
    for mode in ("absent", "count", "change"):
        if getattr(cfg, mode) is not None:
            return mode
    if cfg.mode is not None:
        return "level" if cfg.mode == "state" else "event"
    if cfg.is_stateful_by_keys() or any(k in STATE_KINDS for k in expand_kinds(cfg.on)):
        return "level"
    return "event"


def own_ids(kind: str) -> tuple[str, ...]:
    """Fields that identify one occurrence of `kind` (e.g. a fill's id)."""
    return OWN_IDS.get(kind) or OWN_IDS.get(kind.partition(".")[0], ())


def identity_fields(cfg: RuleConfig, kind: str, aggregate: bool) -> tuple[str, ...]:
    """group_by, else the natural key (without per-occurrence ids for aggregate conditions)."""
    if cfg.group_by is not None:
        return tuple(cfg.group_by)
    fields = natural_key(kind)
    if aggregate:
        ids = own_ids(kind)
        fields = tuple(f for f in fields if f not in ids)
    return fields


def label_text(value: Any) -> str:
    """How a field value reads as a label."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fingerprint(rule: str, labels: dict[str, str], extra: str = "") -> str:
    """Stable id of an alert identity: rule + sorted labels (+ the occurrence for one-offs)."""
    blob = json.dumps([rule, sorted(labels.items()), extra], separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class RuleRuntime:
    """Base: compiled expressions and templates, identity helpers and the alert table."""

    mode = "level"
    aggregate = False

    def __init__(self, cfg: RuleConfig, settings: Settings, sink: Sink) -> None:
        self.cfg, self.name, self.settings, self.sink = cfg, cfg.name, settings, sink
        self.kinds = expand_kinds(cfg.on)
        self.when = compile_expression(cfg.when).fn if cfg.when else None
        self.resolve_when = compile_expression(cfg.resolve_when).fn if cfg.resolve_when else None
        self.lifecycle = Lifecycle(cfg.for_, settings.flapping)
        self.alerts = AlertTable()
        self.fields = {k: identity_fields(cfg, k, self.aggregate) for k in self.kinds}
        self.keys = {k: key_fn(f) for k, f in self.fields.items()}  # key_of per kind, specialised
        self.firsts = {k: first_label(f) for k, f in self.fields.items()}  # see AlertTable
        self.label_fields = self.fields[self.kinds[0]]
        self.stats = RuleStats()
        self.title = Template(cfg.title or DEFAULT_TITLE)
        self.message = Template(cfg.message or "{{ alert.summary }}")
        self._warned: set[str] = set()
        self.dirty: set[Key] = set()  # identities whose state changed since the last drain
        self.history: deque[AlertChange] = deque(maxlen=HISTORY_MAX)

    def narrow(self, rest: Expression | None) -> None:
        """Evaluate only `rest` of `when`: the index routes only events its conjuncts hold for."""
        self.when = rest.fn if rest is not None else None

    @cached_property
    def summary(self) -> str:
        """What the rule checks, in words (the default message)."""
        return self.describe()

    def describe(self) -> str:
        """Default message: what the rule checks, in words."""
        kinds = ", ".join(self.cfg.on)
        held = f" for {format_duration(self.cfg.for_)}" if self.cfg.for_ else ""
        return f"{kinds}: {self.cfg.when}{held}" if self.cfg.when else f"{kinds} event{held}"

    def handle(self, event: Event, now: float) -> None:
        """Evaluate one event of a matching kind."""
        raise NotImplementedError

    def test(self, condition: Condition, data: dict[str, Any]) -> bool:
        """Truth of a compiled expression; a missing field or an error counts as false."""
        try:
            return bool(condition(data))  # validated subset, no builtins
        except Exception as exc:  # a bad value must not stop the loop
            self.failed(exc)
        return False

    def failed(self, exc: Exception) -> None:
        """Count and log (once per rule and field or error type) a failed evaluation."""
        if isinstance(exc, NameError):
            self.stats.missing_field += 1
            self._warn_once(str(exc.name), "field {} is missing from the event")
        elif isinstance(exc, OverBudget):
            self.stats.over_budget += 1
            self._warn_once("OverBudget", f"evaluation over budget ({exc})")
            if self.stats.over_budget >= MAX_STRIKES:
                self.sink.disable(self, str(exc))
        else:
            self.stats.errors += 1
            self._warn_once(type(exc).__name__, f"evaluation failed ({exc})")

    def _warn_once(self, what: str, message: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.warning("rule %s: %s; condition taken as false", self.name, message.format(what))

    def new_alert(self, key: Key, event: Event) -> Alert:
        """Create and register the alert of an identity."""
        labels = {
            name: label_text(value) for name, value in zip(self.label_fields, key, strict=True)
        }
        labels.update(self.cfg.labels)
        alert = Alert(self.name, key, labels, fingerprint(self.name, labels), event)
        self.alerts[key] = alert
        return alert

    def observe(self, alert: Alert, holds: bool, now: float) -> None:
        """Feed the lifecycle and pass transitions and timers to the engine."""
        before = alert.state
        status = self.lifecycle.observe(alert, holds, now)
        self.dirty.add(alert.key)
        if status is not None:
            self.record(alert, status, now)
            self.sink.transition(self, alert, status, now)
        elif alert.state != before:
            self.record(alert, alert.state, now)
        if alert.state == PENDING or alert.flapping:
            self.sink.wake(self.lifecycle.due(alert))

    def record(self, alert: Alert, state: str, now: float) -> None:
        """Keep a lifecycle transition for the alert history (drained with the state)."""
        since = alert.since if state in (PENDING, INACTIVE) else alert.starts_at
        severity, labels = self.settings.severity, dict(alert.labels)
        self.history.append(
            AlertChange(self.name, alert.fingerprint, state, severity, labels, now, since)
        )

    def touched(self, alert: Alert) -> None:
        """The engine changed an alert of this rule (told, repeat schedule): persist it."""
        if self.alerts.get(alert.key) is alert:
            self.dirty.add(alert.key)

    def holds_on(self, alert: Alert, event: Event, holds: bool) -> bool:
        """Once firing, `resolve_when` (if any) decides: the alert holds until it is true."""
        if alert.state == FIRING and self.resolve_when is not None:
            return not self.test(self.resolve_when, event.data)
        return holds

    def resolve_by(self, event: Event, now: float) -> None:
        """A `resolve_on` event: the alert with the same labels stops holding."""
        if self.alerts:
            alert = self.alerts.get(key_of(self.label_fields, event))
            if alert is not None and alert.state != INACTIVE:
                alert.event = event
                self.observe(alert, False, now)

    def advance(self, now: float) -> float:
        """Let time pass: pending `for`, flap holds, forgetting; return the next due time."""
        due = INF
        for key, alert in list(self.alerts.items()):
            if alert.state == PENDING or alert.flapping:
                self.observe(alert, alert.holds, now)
            if self.lifecycle.forgettable(alert, now) and not self.holds_resolve(alert):
                del self.alerts[key]
                self.dirty.add(key)
            else:
                due = min(due, self.lifecycle.due(alert))
        return due

    def holds_resolve(self, alert: Alert) -> bool:
        """A told firing whose resolve is still to be told (held while the alert is muted)."""
        settings = self.settings
        return alert.notified == FIRING and settings.send_resolved and alert.state != FIRING

    def start(self, now: float) -> None:
        """The engine's clock starts (absence timers begin here)."""

    def context(self, alert: Alert, now: float) -> dict[str, Any]:
        """Extra template values of this condition type (count, change ...)."""
        return {}

    # -- per-identity state: what persists (state/) and what a hot reload carries over --------

    def encode_key(self, key: Key) -> str:
        """An identity as JSON text (the rule_state key)."""
        return json.dumps(list(key), separators=(",", ":"))

    def decode_key(self, text: str) -> Key:
        """Inverse of encode_key."""
        return tuple(json.loads(text))

    def state_keys(self) -> Iterable[Key]:
        """Every identity that holds state."""
        return list(self.alerts)

    def export_key(self, key: Key) -> dict[str, Any] | None:
        """JSON-able state of one identity, or None when there is nothing to keep."""
        alert = self.alerts.get(key)
        if alert is None or not self.lifecycle.worth_keeping(alert):
            return None
        return {"alert": alert.to_json()}

    def import_key(self, key: Key, value: dict[str, Any]) -> None:
        """Inverse of export_key (on a fresh runtime)."""
        raw = value.get("alert")
        if raw is not None:
            self.alerts[key] = Alert.from_json(self.name, raw)

    def drop_key(self, key: Key) -> Alert | None:
        """Forget an identity, untold and unsaved (another process owns it now); its alert."""
        self.dirty.discard(key)
        alert: Alert | None = self.alerts.pop(key, None)
        return alert

    def restored(self) -> None:
        """Every identity was imported."""

    def settled(self, alert: Alert) -> None:
        """A queued notification of `alert` left its group (told, suppressed or outdated)."""

    def waiting(self) -> Iterable[Alert]:
        """One-offs accepted but not told yet (restored ones are queued again at start)."""
        return ()


class LevelRule(RuleRuntime):
    """`when` describes a state (equity < 1000): pending, firing, resolved as it changes."""

    def handle(self, event: Event, now: float) -> None:
        """Hot path: an event whose condition is false costs one eval and, if the rule holds
        alerts, one lookup of its first label (the key is built only if an alert could match)."""
        stats = self.stats
        stats.events += 1
        when = self.when
        holds = True
        if when is not None:
            try:  # `test` inlined: this line runs for every event of every level rule
                holds = bool(when(event.data))
            except Exception as exc:  # counted and logged once, never raised
                self.failed(exc)
                holds = False
        alerts = self.alerts
        if holds:
            stats.matched += 1
        elif not alerts or not alerts.may_hold(self.firsts[event.kind], event):
            return
        key = self.keys[event.kind](event)
        alert = alerts.get(key)
        if alert is None:
            if not holds:
                return
            alert = self.new_alert(key, event)
        alert.event = event
        if alert.holds == holds and not alert.flapping:
            state = alert.state  # still firing, or still resolved: only its event changed
            if (state == INACTIVE and not holds) or (
                state == FIRING and holds and self.resolve_when is None
            ):
                self.dirty.add(key)
                return
        self.observe(alert, self.holds_on(alert, event, holds), now)
