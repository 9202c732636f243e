"""The rule engine: pure. It takes an event and the time, and returns notifications to send."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from alertbot.core.errors import ConfigError, Problem
from alertbot.core.events import KINDS
from alertbot.core.model import RESOLVED, AlertChange, AlertSummary, Event, Notification, notice
from alertbot.core.scope import Scoper, scoper
from alertbot.rules.build import build_rule, digest
from alertbot.rules.config import DEFAULT_INHIBIT, RuleSet, expand_kinds
from alertbot.rules.grouping import Grouper, Member
from alertbot.rules.index import RuleIndex
from alertbot.rules.inhibit import Inhibitor
from alertbot.rules.lifecycle import FIRING, INACTIVE, Alert
from alertbot.rules.oneoff import EventRule
from alertbot.rules.render import notification, summarize
from alertbot.rules.runtime import INF, MAX_STRIKES, RuleRuntime, RuleStats
from alertbot.rules.silences import SilenceStore
from alertbot.rules.validate import semantic_problems
from alertbot.state.api import RuleStateChange, StateChanges

DISABLED = "alertbot-rule-disabled"  # the notice a disabled rule sends
__all__ = ["AlertSummary", "AlertView", "Engine", "Notification"]
log = logging.getLogger("alertbot.rules")


@dataclass(frozen=True, slots=True)
class AlertView:
    """A pending or firing alert, for status pages and health."""

    rule: str
    state: str
    labels: dict[str, str]
    fingerprint: str
    severity: str
    since: float  # pending since, or firing since
    flapping: bool
    notified: str | None


class Engine:
    """Rules indexed by event kind and labels; alert lifecycles, grouping, silences, inhibition."""

    def __init__(
        self, config: RuleSet, *, silences: SilenceStore | None = None, indexed: bool = True
    ) -> None:
        problems = semantic_problems(config)
        if problems:
            raise ConfigError([Problem("rules", 0, 0, key, msg) for key, msg in problems])
        self.config = config
        self.silences = silences if silences is not None else SilenceStore()
        self.rules = [build_rule(cfg, config, self) for cfg in config.rules if cfg.enabled]
        self.by_name = {rt.name: rt for rt in self.rules}
        self.digests = {rt.name: digest(rt) for rt in self.rules}
        self.scopes: dict[str, Scoper] = {
            rt.name: scoper(rt.kinds, rt.fields, isinstance(rt, EventRule)) for rt in self.rules
        }
        self.stats: dict[str, RuleStats] = {rt.name: rt.stats for rt in self.rules}
        self.index = RuleIndex(self.rules, indexed=indexed)  # indexed=False: the reference
        self._routes = self.index.routes
        for kind in KINDS:
            self.index.route(kind)
        self._resolvers: dict[str, tuple[RuleRuntime, ...]] = {
            k: tuple(rt for rt in self.rules if k in _resolve_kinds(rt)) for k in KINDS
        }
        inhibit = config.inhibit if config.inhibit is not None else DEFAULT_INHIBIT
        self._inhibitor = Inhibitor(inhibit, self.rules)
        self._grouper = Grouper()
        self._wake = INF
        self._started = False
        self.disabled: dict[str, str] = {}  # rule -> why it was switched off (over budget)
        self._disabling: list[tuple[RuleRuntime, str]] = []  # told at the next process/tick
        self._carried: list[RuleStateChange] = []  # forgets and a replaced engine's changes
        self._carried_history: list[AlertChange] = []

    def sizes(self) -> dict[str, int]:
        """Alert identities and remembered occurrence ids (keyed by server data), for /metrics."""
        return {
            "alert_identities": sum(len(rt.alerts) for rt in self.rules),
            "occurrence_ids": sum(len(rt.seen) for rt in self.rules if isinstance(rt, EventRule)),
        }

    # -- the Sink protocol: what rules report --------------------------------------------

    def transition(self, rule: RuleRuntime, alert: Alert, status: str, now: float) -> None:
        """A rule's alert fired or resolved: queue the notification (or not, for resolves)."""
        if status == FIRING:
            self._enqueue(rule, alert, FIRING, now)
        elif rule.settings.send_resolved and alert.notified == FIRING:
            self._enqueue(rule, alert, status, now)

    def occurrence(self, rule: RuleRuntime, alert: Alert, now: float) -> None:
        """A one-off event to tell."""
        self._enqueue(rule, alert, FIRING, now)

    def wake(self, at: float) -> None:
        """Something becomes due at `at`: `process` runs the timers then."""
        if at < self._wake:
            self._wake = at

    def disable(self, rule: RuleRuntime, reason: str) -> None:
        """Stop evaluating a rule that keeps going over budget; one notice says so.

        It stays off until the rules are reloaded or alertbot restarts. Taking it out of the
        index costs the hot path nothing.
        """
        if rule.name in self.disabled:
            return
        self.disabled[rule.name] = reason
        self.index = self.index.without(rule)
        self._routes = self.index.routes
        self._resolvers = {
            k: tuple(r for r in v if r is not rule) for k, v in self._resolvers.items()
        }
        self._disabling.append((rule, reason))

    def _disabled_notices(self, now: float) -> list[Notification]:
        out = []
        for rule, reason in self._disabling:
            title = f"Rule {rule.name} disabled: its condition went over budget"
            message = (
                f"{reason} on {MAX_STRIKES} events; the rule is skipped until the rules are "
                "reloaded or alertbot restarts. Fix its `when` / `resolve_when`."
            )
            notify, labels = rule.settings.notify, {"rule": rule.name}
            out.append(notice(DISABLED, "error", title, message, notify, now, labels))
        self._disabling.clear()
        return out

    # -- the API ---------------------------------------------------------------------------

    def process(self, event: Event, now: float) -> list[Notification]:
        """Evaluate one event at engine time `now`; timers due by `now` run first."""
        if not self._started:
            self._start(now)
        out = self._advance(now) if now >= self._wake else []
        route = self._routes.get(event.kind)
        if route is None:
            route = self.index.route(event.kind)
            self._resolvers.setdefault(event.kind, ())
        for rt in route.match(event.data):
            rt.handle(event, now)
        for rt in self._resolvers[event.kind]:
            rt.resolve_by(event, now)
        if self._grouper.next_due <= now:
            out.extend(self._flush(now))
        if self._disabling:
            out.extend(self._disabled_notices(now))
        return out

    def next_due(self) -> float:
        """When a timer or a group flush is next due (inf if none): replay ticks exactly then."""
        return min(self._wake, self._grouper.next_due)

    def tick(self, now: float) -> list[Notification]:
        """Let time pass: `for`, absence, windows, repeat, silence expiry and group flushes."""
        if not self._started:
            self._start(now)
        out = self._advance(now)
        horizon = max((rt.settings.group_interval for rt in self.rules), default=0.0)
        self._grouper.forget_idle(now, horizon + 1.0)
        if self._disabling:
            out.extend(self._disabled_notices(now))
        return out

    def active_alerts(self) -> list[AlertView]:
        """Every pending or firing alert."""
        return [
            AlertView(rt.name, a.state, dict(a.labels), a.fingerprint, rt.settings.severity,
                      a.starts_at if a.state == FIRING else a.since, a.flapping, a.notified)
            for rt in self.rules
            for a in rt.alerts.values()
            if a.state != INACTIVE
        ]  # fmt: skip

    # -- state: drained incrementally for the store, restored at start, carried on reload ----

    def drain_state(self) -> StateChanges:
        """What changed since the last drain: one row per changed identity, and the history."""
        rules, self._carried = self._carried, []
        history, self._carried_history = self._carried_history, []
        for rt in self.rules:
            if rt.dirty:
                rules.extend(self._row(rt, key) for key in rt.dirty)
                rt.dirty.clear()
            if rt.history:
                history.extend(rt.history)
                rt.history.clear()
        history.sort(key=lambda change: change.at)
        return StateChanges(tuple(rules), tuple(history))

    def told(self, change: RuleStateChange) -> bool:
        """A one-off occurrence that left its group (told, or muted on purpose): a fact."""
        rt = self.by_name.get(change.rule)
        value = change.value
        return (
            isinstance(rt, EventRule)
            and value is not None
            and "seen" in value
            and "untold" not in value
            and self.digests[rt.name] == change.digest
        )

    def snapshot(self) -> list[RuleStateChange]:
        """Every identity's state now (what a replacing engine takes over)."""
        return [self._row(rt, key) for rt in self.rules for key in rt.state_keys()]

    def restore(self, rows: Iterable[RuleStateChange]) -> int:
        """Take saved rows of rules whose definition is unchanged; forget the others' rows."""
        taken = 0
        for row in rows:
            rt = self.by_name.get(row.rule)
            if row.value is None:
                continue
            if rt is None or row.digest != self.digests[rt.name]:
                self._carried.append(RuleStateChange(row.rule, row.digest, row.key, None))
                continue
            rt.import_key(rt.decode_key(row.key), row.value)
            taken += 1
        for rt in self.rules:
            rt.restored()
            self._retell(rt)
        self._wake = -INF  # re-evaluate timers at the next call
        return taken

    def adopt(self, rows: Iterable[RuleStateChange], wanted: Callable[[str], bool]) -> int:
        """Take the saved rows whose scope is `wanted` (accounts this replica just gained).

        Restore's rules: a rule whose digest changed has its row forgotten. What the previous
        owner accepted but did not tell is queued again; what it told (`notified`) is not.
        """
        fresh: dict[str, list[Any]] = {}
        known: dict[str, set[int]] = {}  # per rule: waiting alerts queued here already
        for row in rows:
            rt = self.by_name.get(row.rule)
            if rt is None or row.value is None:
                continue
            key = rt.decode_key(row.key)
            scope = self.scopes[rt.name](key)
            if not wanted(scope):
                continue
            if row.digest != self.digests[rt.name]:
                self._carried.append(RuleStateChange(row.rule, row.digest, row.key, None, scope))
                continue
            if rt.name not in known:
                known[rt.name] = {id(alert) for alert in rt.waiting()}
            rt.import_key(key, row.value)
            fresh.setdefault(rt.name, []).append(key)
        for name, keys in fresh.items():
            rt = self.by_name[name]
            rt.restored()
            self._retell(rt, keys, known[name])
        self._wake = -INF
        return sum(len(keys) for keys in fresh.values())

    def forget(self, gone: Callable[[str], bool]) -> int:
        """Drop every identity whose scope is `gone` (it moved to another replica).

        Nothing is told and nothing is written: the store keeps what was saved for the next
        owner, and a replica past its fence must not write it any more.
        """
        dropped: set[int] = set()
        count = 0
        for rt in self.rules:
            scope = self.scopes[rt.name]
            for key in [k for k in rt.state_keys() if gone(scope(k))]:
                alert = rt.drop_key(key)
                if alert is not None:
                    dropped.add(id(alert))
                count += 1
        for group in self._grouper.groups.values():  # queued, not told: the new owner tells
            group.members = [m for m in group.members if id(m.alert) not in dropped]
        self._carried = [row for row in self._carried if not gone(row.scope)]
        return count

    def take_over(self, old: Engine) -> None:
        """Hot reload: keep the alerts of unchanged rules and what `old` did not drain yet."""
        carried = old.drain_state()
        self.restore(old.snapshot())
        self._carried[:0] = carried.rules
        self._carried_history[:0] = carried.history

    def _row(self, rt: RuleRuntime, key: Any) -> RuleStateChange:
        return RuleStateChange(rt.name, self.digests[rt.name], rt.encode_key(key),
                               rt.export_key(key), self.scopes[rt.name](key))  # fmt: skip

    def _retell(
        self, rt: RuleRuntime, keys: Iterable[Any] | None = None, known: set[int] | None = None
    ) -> None:
        """Queue again what was saved untold (of `keys` only; `known`: already queued here)."""
        for alert in rt.waiting():
            if known is None or id(alert) not in known:
                self._enqueue(rt, alert, FIRING, alert.starts_at)
        alerts = rt.alerts.values() if keys is None else [rt.alerts[k] for k in keys
                                                           if k in rt.alerts]  # fmt: skip
        for alert in alerts:
            told = alert.notified == FIRING
            if alert.state == FIRING and not told:
                self._enqueue(rt, alert, FIRING, alert.starts_at)
            elif alert.state != FIRING and told and rt.settings.send_resolved:
                self._enqueue(rt, alert, RESOLVED, alert.ends_at or alert.starts_at)

    # -- internals -------------------------------------------------------------------------

    def _start(self, now: float) -> None:
        self._started = True
        for rt in self.rules:
            rt.start(now)

    def _advance(self, now: float) -> list[Notification]:
        self._wake = INF
        for rt in self.rules:
            self.wake(rt.advance(now))
        self.wake(self._remind(now))
        return self._flush(now)

    def _remind(self, now: float) -> float:
        """Queue repeats, and firings and resolves never told (muted until now)."""
        due = INF
        for rt in self.rules:
            repeat = rt.settings.repeat
            for alert in rt.alerts.values():
                if alert.queued:
                    continue
                if alert.state != FIRING:
                    if rt.holds_resolve(alert) and self._suppressed(alert, now) is None:
                        self._enqueue(rt, alert, RESOLVED, now)  # the mute ended: tell it now
                    continue
                if alert.notified != FIRING:
                    if self._suppressed(alert, now) is None:
                        self._enqueue(rt, alert, FIRING, now)
                elif repeat and now - alert.last_notified_at >= repeat:
                    self._enqueue(rt, alert, FIRING, now, repeat=True)
                elif repeat:
                    due = min(due, alert.last_notified_at + repeat)
        return due

    def _enqueue(
        self, rt: RuleRuntime, alert: Alert, status: str, now: float, *, repeat: bool = False
    ) -> None:
        alert.queued = True
        settings = rt.settings
        member = Member(alert, status, repeat)
        self._grouper.add(
            (rt.name, status), member, now, settings.group_wait, settings.group_interval
        )

    def _flush(self, now: float) -> list[Notification]:
        out = []
        for (name, status), members in self._grouper.pop_due(now):
            rt = self.by_name[name]
            alerts, summaries = self._deliverable(rt, status, members, now)
            if alerts:
                out.append(notification(rt, status, alerts, summaries, now))
                self._grouper.flushed((name, status), now)
        return out

    def _deliverable(
        self, rt: RuleRuntime, status: str, members: list[Member], now: float
    ) -> tuple[list[Alert], list[Any]]:
        """Members still true, not silenced nor inhibited; each alert once; marks them told."""
        alerts, summaries, seen = [], [], set()
        for member in members:
            alert = member.alert
            alert.queued = False
            rt.settled(alert)
            if id(alert) in seen or not _current(member):
                continue
            seen.add(id(alert))
            if self._muted(rt, alert, status, now):
                continue
            summaries.append(summarize(rt, alert, status, now, member.repeat))
            alert.notified, alert.last_notified_at = status, now
            rt.touched(alert)
            alerts.append(alert)
        rt.stats.notifications += len(alerts)
        return alerts, summaries

    def _muted(self, rt: RuleRuntime, alert: Alert, status: str, now: float) -> bool:
        """Held back by a silence or an inhibition? A muted resolve follows `muted_resolve`."""
        policy = rt.settings.muted_resolve
        if status != FIRING and policy == "send":
            return False  # the firing was told: its resolve goes through the mute
        why = self._suppressed(alert, now)
        if why is None:
            return False
        rt.stats.suppressed += 1
        if status != FIRING:
            if policy == "drop":  # Alertmanager's behaviour: the resolve is not told
                alert.notified = RESOLVED
                rt.touched(alert)
            log.info("rule %s: resolve of %s muted by %s (%s)", rt.name, alert.labels, why,
                     "dropped" if policy == "drop" else "held until the mute ends")  # fmt: skip
        return True

    def _suppressed(self, alert: Alert, now: float) -> str | None:
        silence = self.silences.match(alert.rule, alert.labels, now)
        if silence is not None:
            return f"silence {silence.id}"
        return self._inhibitor.inhibited(alert)


def _current(member: Member) -> bool:
    """Is the queued status still the truth, and not already told?"""
    alert = member.alert
    if member.status == FIRING:
        return alert.state == FIRING and (member.repeat or alert.notified != FIRING)
    return alert.state != FIRING and alert.notified == FIRING


def _resolve_kinds(rt: RuleRuntime) -> tuple[str, ...]:
    return expand_kinds(rt.cfg.resolve_on) if rt.cfg.resolve_on else ()
