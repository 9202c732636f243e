"""Typed models of the rules.yaml sections the engine owns: defaults, rules, inhibit."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from alertbot.core.durations import Duration, PositiveDuration
from alertbot.core.events import DATA_KINDS, KINDS, RISK_KINDS
from alertbot.core.strict import Strict
from alertbot.rules.expr import check_expression
from alertbot.rules.templates import check_template

Severity = Literal["info", "warning", "error", "critical"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
_COMPARISON = re.compile(r"^\s*(<=|>=|<|>)\s*([+-]?\d+(?:\.\d+)?)\s*$")


def _kinds(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError("expected an event kind, a glob such as order.*, or a list of them")
    for item in items:
        kind_problem = pattern_problem(item)
        if kind_problem:
            raise ValueError(kind_problem)
    return tuple(dict.fromkeys(items))


def pattern_problem(pattern: Any) -> str | None:
    """Why `pattern` names no known event kind (None when it names at least one)."""
    if not isinstance(pattern, str):
        return f"expected an event kind as text, got {pattern!r}"
    if expand_kinds((pattern,)):
        return None
    hint = difflib.get_close_matches(pattern, KINDS, n=1)
    suffix = f"; did you mean {hint[0]!r}?" if hint else f"; known kinds: {', '.join(KINDS)}"
    return f"{pattern!r} matches no event kind{suffix}"


def reads_risk(rules: Iterable[RuleConfig]) -> bool:
    """Whether any enabled rule is on a risk kind (so the source must compute them)."""
    return any(k in RISK_KINDS for rule in rules if rule.enabled for k in expand_kinds(rule.on))


def expand_kinds(patterns: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Every known kind matched by the kinds or globs in `patterns`, in vocabulary order."""
    return tuple(k for k in KINDS if any(fnmatchcase(k, p) for p in patterns))


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"rule name {value!r} must be letters, digits, '_', '-', '.' or ':'")
    return value


def _comparison(value: str) -> str:
    match = _COMPARISON.match(value)
    if not match:
        raise ValueError(f"expected a comparison such as '<= -10' or '>= 5', got {value!r}")
    op, number = match.group(1), float(match.group(2))
    if (op[0] == "<" and number >= 0) or (op[0] == ">" and number <= 0):
        raise ValueError(
            f"{value!r}: use '<'/'<=' with a negative number (a fall) or '>'/'>=' with a "
            "positive number (a rise)"
        )
    return value


def parse_comparison(value: str) -> tuple[str, float]:
    """`'<= -10'` -> `('<=', -10.0)` (the text was validated on load)."""
    match = _COMPARISON.match(value)
    assert match is not None  # validated by the model
    return match.group(1), float(match.group(2))


Kinds = Annotated[tuple[str, ...], BeforeValidator(_kinds)]
Expr = Annotated[str, AfterValidator(check_expression)]
Tmpl = Annotated[str, AfterValidator(check_template)]
Comparison = Annotated[str, AfterValidator(_comparison)]
FieldName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]


class FlappingConfig(Strict):
    """Hold an alert that flips firing/resolved too often as firing until it is stable."""

    changes: int = Field(default=4, ge=0)  # 0 turns flap detection off
    within: PositiveDuration = 600.0
    stable: PositiveDuration = 300.0


class ChangeConfig(Strict):
    """A numeric field moved by an amount (`by`) or a percentage (`by_pct`) within a window."""

    of: FieldName
    within: PositiveDuration
    by: Comparison | None = None
    by_pct: Comparison | None = None

    @model_validator(mode="after")
    def _one_threshold(self) -> ChangeConfig:
        if (self.by is None) == (self.by_pct is None):
            raise ValueError("give exactly one of `by` (absolute) or `by_pct` (percent)")
        return self


# What happens to a resolve that comes due while its alert is muted (silenced or inhibited):
# hold it until the mute ends (default), send it through the mute at once, or drop it
# (Alertmanager's behaviour).
MutedResolve = Literal["hold", "send", "drop"]


class DefaultsConfig(Strict):
    """Values every rule inherits unless it sets its own."""

    notify: list[str] | None = None  # None: every configured notifier
    severity: Severity = "warning"
    repeat: Duration = 0.0  # 0: notify once per firing
    send_resolved: bool = True
    group_wait: Duration = 0.0
    group_interval: Duration = 5.0
    flapping: FlappingConfig = FlappingConfig()
    dedup_window: PositiveDuration = 86_400.0  # how long one-off identities are remembered
    muted_resolve: MutedResolve = "hold"


class RuleConfig(Strict):
    """One rule: which events, which condition, and how its alerts are told."""

    name: Annotated[str, AfterValidator(_name)]
    on: Kinds
    mode: Literal["event", "state"] | None = None
    when: Expr | None = None
    for_: Duration = Field(default=0.0, alias="for")
    resolve_when: Expr | None = None
    resolve_on: Kinds | None = None
    count: int | None = Field(default=None, ge=1)
    within: PositiveDuration | None = None
    change: ChangeConfig | None = None
    absent: PositiveDuration | None = None
    group_by: list[FieldName] | None = None
    labels: dict[FieldName, str] = {}
    severity: Severity | None = None
    notify: list[str] | None = None
    repeat: Duration | None = None
    send_resolved: bool | None = None
    muted_resolve: MutedResolve | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    flapping: FlappingConfig | None = None
    title: Tmpl | None = None
    message: Tmpl | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> RuleConfig:
        if (self.count is None) != (self.within is None):
            raise ValueError("`count` and `within` go together: count: 3, within: 2m")
        conditions = [k for k in ("count", "change", "absent") if getattr(self, k) is not None]
        if len(conditions) > 1:
            raise ValueError(f"choose one of count, change, absent (got {', '.join(conditions)})")
        if self.mode == "event" and (self.is_stateful_by_keys() or conditions):
            raise ValueError("mode: event cannot have for, resolve_when, resolve_on, count, ...")
        return self

    def is_stateful_by_keys(self) -> bool:
        """Keys that only make sense with a lifecycle."""
        return bool(self.for_ or self.resolve_when or self.resolve_on)


class KindMatcher(Strict):
    """Selects rules by name (globs allowed) or by the event kinds they are on."""

    rules: list[str] = []
    kinds: Kinds | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> KindMatcher:
        if not self.rules and not self.kinds:
            raise ValueError("give `rules` (names or globs) or `kinds` (event kinds or globs)")
        return self


class InhibitRule(Strict):
    """While an alert of a `source` rule fires, alerts of `target` rules with equal labels wait."""

    name: str = "inhibit"
    source: KindMatcher
    target: KindMatcher
    equal: list[FieldName] = ["conn"]  # `conn` falls back to the alert's Event.conn


DEFAULT_INHIBIT = (
    InhibitRule(
        name="transport-down",
        source=KindMatcher(
            kinds=("connection.lost", "connection.reconnect", "connection.gap", "feed.stale")
        ),
        target=KindMatcher(kinds=DATA_KINDS),
        equal=["conn"],
    ),
)


Rules = list[RuleConfig]  # unique names are checked with the other cross-key rules (validate.py)


class RuleSet(Protocol):
    """What the engine reads of a config: `alertbot.config.Config` has it (rules never import it).

    Read-only attributes, so the frozen pydantic Config (and any test double) satisfies it.
    """

    @property
    def defaults(self) -> DefaultsConfig:
        """Values every rule inherits."""
        ...

    @property
    def rules(self) -> Sequence[RuleConfig]:
        """The rules, in file order."""
        ...

    @property
    def inhibit(self) -> Sequence[InhibitRule] | None:
        """Inhibit rules; None means the documented default."""
        ...

    @property
    def notifiers(self) -> Mapping[str, Any]:
        """Configured notifiers by name (rules use the names only)."""
        ...
