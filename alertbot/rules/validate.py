"""Checks that need more than one key: names that must exist, fields, templates (template_check)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase

from alertbot.core.located import Path, dotted
from alertbot.rules.config import RuleConfig, RuleSet, expand_kinds
from alertbot.rules.expr import OverBudget, compile_expression
from alertbot.rules.runtime import rule_mode
from alertbot.rules.samples import known_fields, sample_event
from alertbot.rules.template_check import template_problems


@dataclass(frozen=True, slots=True)
class Finding:
    """A problem at a config path; warnings are printed but do not fail `check`."""

    path: Path
    message: str
    warning: bool = False


def semantic_problems(config: RuleSet) -> list[tuple[str, str]]:
    """Errors only, as (dotted key, message): what the engine refuses to start with."""
    return [(dotted(f.path), f.message) for f in findings(config) if not f.warning]


def findings(
    config: RuleSet,
    *,
    rules: list[tuple[int, RuleConfig]] | None = None,
    rule_names: list[str] | None = None,
    notifier_names: list[str] | None = None,
) -> list[Finding]:
    """Every cross-key problem of the rules, defaults and inhibit sections, templates included.

    `check` passes the rules that passed the schema with their positions in the file, and the
    names written in the file, so one broken rule or notifier hides nothing else.
    """
    indexed = list(enumerate(config.rules)) if rules is None else rules
    names = [r.name for _, r in indexed] if rule_names is None else rule_names
    notifiers = list(config.notifiers) if notifier_names is None else notifier_names
    out = list(_notify_names(("defaults", "notify"), config.defaults.notify, notifiers))
    first: dict[str, int] = {}
    for i, rule in indexed:
        if rule.name in first:
            msg = f"rule name {rule.name!r} is already used by rules[{first[rule.name]}]"
            out.append(Finding(("rules", i, "name"), msg))
        first.setdefault(rule.name, i)
        out.extend(_rule_findings(("rules", i), rule, config, notifiers))
    for i, spec in enumerate(config.inhibit or ()):
        for side in ("source", "target"):
            for j, pattern in enumerate(getattr(spec, side).rules):
                if not any(fnmatchcase(n, pattern) for n in names):
                    msg = f"{pattern!r} matches no rule" + _hint(pattern, names)
                    out.append(Finding(("inhibit", i, side, "rules", j), msg))
    return out


def _rule_findings(
    at: Path, rule: RuleConfig, config: RuleSet, notifiers: list[str]
) -> list[Finding]:
    out = list(_notify_names((*at, "notify"), rule.notify, notifiers))
    kinds = expand_kinds(rule.on)
    fields = frozenset().union(*(known_fields(k) for k in kinds))
    for key in ("when", "resolve_when"):
        source = getattr(rule, key)
        if source is not None:
            out.extend(_unknown_fields((*at, key), source, fields, kinds))
            out.extend(_over_budget((*at, key), source, kinds))
    for j, name in enumerate(rule.group_by or ()):
        if name not in fields and name != "conn":
            out.append(Finding((*at, "group_by", j), _unknown(name, fields, kinds)))
    if rule.change is not None and rule.change.of not in fields:
        out.append(Finding((*at, "change", "of"), _unknown(rule.change.of, fields, kinds)))
    out.extend(_combinations(at, rule, kinds))
    out.extend(Finding((*at, *p), m) for p, m in template_problems(rule, config))
    return out


def _over_budget(at: Path, source: str, kinds: tuple[str, ...]) -> Iterator[Finding]:
    """A condition that goes over the evaluation budget on a sample event cannot be meant."""
    expression = compile_expression(source)
    for kind in kinds:
        try:
            expression.evaluate(sample_event(kind).data)
        except OverBudget as exc:
            yield Finding(at, f"over the evaluation budget on a sample {kind} event: {exc}")
            return
        except Exception:
            continue


def _notify_names(at: Path, names: list[str] | None, notifiers: list[str]) -> Iterator[Finding]:
    for j, name in enumerate(names or ()):
        if name not in notifiers:
            known = ", ".join(notifiers) or "none"
            yield Finding((*at, j), f"no notifier named {name!r} (notifiers: {known})")


def _unknown_fields(
    at: Path, source: str, fields: frozenset[str], kinds: tuple[str, ...]
) -> Iterator[Finding]:
    for name in sorted(compile_expression(source).names - fields):
        yield Finding(at, _unknown(name, fields, kinds))


def _unknown(name: str, fields: frozenset[str], kinds: tuple[str, ...]) -> str:
    what = kinds[0] if len(kinds) == 1 else f"{kinds[0]} (and {len(kinds) - 1} more kinds)"
    hint = _hint(name, sorted(fields))
    return f"unknown field {name!r} for {what}{hint or '; fields: ' + ', '.join(sorted(fields))}"


def _hint(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _combinations(at: Path, rule: RuleConfig, kinds: tuple[str, ...]) -> Iterator[Finding]:
    mode = rule_mode(rule)
    if rule.resolve_on:
        both = set(kinds) & set(expand_kinds(rule.resolve_on))
        if both:
            msg = f"resolve_on overlaps on: {', '.join(sorted(both))} would fire and resolve"
            yield Finding((*at, "resolve_on"), msg)
    if rule.resolve_when and mode in ("count", "absent"):
        yield Finding((*at, "resolve_when"), f"resolve_when does not apply to {mode} rules")
    if mode == "level" and rule.when is None and not rule.resolve_on:
        msg = "a state rule without `when` or `resolve_on` fires once and never resolves"
        yield Finding(at, msg, warning=True)
