"""Inhibition: while a source alert fires, target alerts with equal labels are held back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from alertbot.rules.config import InhibitRule, KindMatcher, expand_kinds
from alertbot.rules.lifecycle import FIRING, Alert
from alertbot.rules.runtime import RuleRuntime, label_text


def selects(matcher: KindMatcher, rule: RuleRuntime) -> bool:
    """The matcher names the rule, or one of the kinds the rule is on."""
    if any(fnmatchcase(rule.name, pattern) for pattern in matcher.rules):
        return True
    kinds = set(expand_kinds(matcher.kinds)) if matcher.kinds else set()
    return any(kind in kinds for kind in rule.kinds)


def label_value(alert: Alert, name: str) -> str:
    """A label for `equal:` matching; `conn` falls back to the connection the event came from."""
    if name in alert.labels:
        return alert.labels[name]
    if name == "conn":
        return str(alert.event.conn)
    return label_text(alert.event.data.get(name))


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    sources: tuple[RuleRuntime, ...]
    equal: tuple[str, ...]


class Inhibitor:
    """Answers "is this alert inhibited now?" from the firing alerts of source rules."""

    def __init__(self, rules: Iterable[InhibitRule], runtimes: list[RuleRuntime]) -> None:
        self.by_target: dict[str, list[_Entry]] = {}
        for spec in rules:
            sources = tuple(rt for rt in runtimes if selects(spec.source, rt))
            entry = _Entry(spec.name, sources, tuple(spec.equal))
            for rt in runtimes:
                if sources and selects(spec.target, rt):
                    self.by_target.setdefault(rt.name, []).append(entry)

    def inhibited(self, alert: Alert) -> str | None:
        """Name of the inhibit rule and source alert holding `alert` back, or None."""
        for entry in self.by_target.get(alert.rule, ()):
            wanted = [label_value(alert, name) for name in entry.equal]
            for rt in entry.sources:
                if rt.name == alert.rule:
                    continue  # an alert cannot inhibit itself
                for source in rt.alerts.values():
                    if source.state == FIRING and wanted == [
                        label_value(source, name) for name in entry.equal
                    ]:
                        return f"{entry.name} ({rt.name} {source.labels})"
        return None
