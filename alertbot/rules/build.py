"""From validated config to rule runtimes: effective settings and the runtime per condition type."""

from __future__ import annotations

import hashlib

from alertbot.rules.conditions import AbsentRule, ChangeRule, CountRule
from alertbot.rules.config import DefaultsConfig, RuleConfig, RuleSet
from alertbot.rules.oneoff import EventRule
from alertbot.rules.runtime import LevelRule, RuleRuntime, Settings, Sink, rule_mode

RUNTIMES: dict[str, type[RuleRuntime]] = {
    "level": LevelRule,
    "event": EventRule,
    "count": CountRule,
    "absent": AbsentRule,
    "change": ChangeRule,
}


def settings_for(cfg: RuleConfig, defaults: DefaultsConfig, notifiers: list[str]) -> Settings:
    """The rule's own value for each setting, else the default."""
    notify = cfg.notify if cfg.notify is not None else defaults.notify
    return Settings(
        severity=cfg.severity or defaults.severity,
        notify=tuple(notify if notify is not None else notifiers),
        repeat=cfg.repeat if cfg.repeat is not None else defaults.repeat,
        send_resolved=cfg.send_resolved
        if cfg.send_resolved is not None
        else defaults.send_resolved,
        group_wait=cfg.group_wait if cfg.group_wait is not None else defaults.group_wait,
        group_interval=cfg.group_interval
        if cfg.group_interval is not None
        else defaults.group_interval,
        flapping=cfg.flapping or defaults.flapping,
        dedup_window=defaults.dedup_window,
        muted_resolve=cfg.muted_resolve or defaults.muted_resolve,
    )


def build_rule(cfg: RuleConfig, config: RuleSet, sink: Sink) -> RuleRuntime:
    """The runtime for one rule (expressions and templates compiled here, once)."""
    settings = settings_for(cfg, config.defaults, list(config.notifiers))
    return RUNTIMES[rule_mode(cfg)](cfg, settings, sink)


def digest(rt: RuleRuntime) -> str:
    """Changes when the rule or its effective settings change: state is kept only if equal."""
    # muted_resolve decides delivery, not the shape of state: changing it keeps the state
    blob = rt.cfg.model_dump_json(by_alias=True, exclude={"muted_resolve"}) + repr(rt.settings)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class NullSink:
    """A sink that ignores everything (for `check`, which only renders)."""

    def transition(self, rule: RuleRuntime, alert: object, status: str, now: float) -> None:
        """Ignore."""

    def occurrence(self, rule: RuleRuntime, alert: object, now: float) -> None:
        """Ignore."""

    def wake(self, at: float) -> None:
        """Ignore."""

    def disable(self, rule: RuleRuntime, reason: str) -> None:
        """Ignore."""
