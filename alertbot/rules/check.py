"""`alertbot check`: every problem of a rules file, located as file:LINE:COL, or a summary."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from alertbot.config import Config, parse_config
from alertbot.core.errors import ConfigError, Problem
from alertbot.core.events import KINDS
from alertbot.core.located import load_located
from alertbot.rules.config import expand_kinds
from alertbot.rules.runtime import rule_mode
from alertbot.rules.validate import findings


@dataclass
class CheckResult:
    """The outcome of checking one file: the config when valid, and what was found."""

    file: str
    config: Config | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return self.config is not None and not self.problems


def check_file(path: str | os.PathLike[str], *, env: dict[str, str] | None = None) -> CheckResult:
    """Schema, expressions, templates on sample events, names of notifiers and rules."""
    file = str(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        return CheckResult(file, problems=[Problem(file, 0, 0, "", f"cannot read: {exc.strerror}")])
    return check_text(text, file, env=env)


def check_text(text: str, file: str, *, env: dict[str, str] | None = None) -> CheckResult:
    """check_file on text already read."""
    located = load_located(text, file, env=env)
    try:
        config = parse_config(text, file, env=env)
    except ConfigError as exc:
        return CheckResult(file, problems=exc.problems)
    found = findings(config)
    problems = [located.problem(f.path, f.message) for f in found if not f.warning]
    from alertbot.notify.base import notifier_problems  # notifiers sit above rules: import late

    problems += notifier_problems(config, located, env=env)
    return CheckResult(
        file,
        config,
        problems=problems,
        warnings=[located.problem(f.path, f.message) for f in found if f.warning],
    )


def load_checked(path: str | os.PathLike[str], *, env: dict[str, str] | None = None) -> Config:
    """Load a config for running: raise ConfigError with every located problem, as `check` does."""
    result = check_file(path, env=env)
    if result.config is None or result.problems:
        raise ConfigError(result.problems)
    return result.config


def summary(config: Config) -> str:
    """What a valid config contains: rules per kind, notifiers."""
    rules = [r for r in config.rules if r.enabled]
    lines = [f"{len(rules)} rules, {len(config.notifiers)} notifiers"]
    for kind in KINDS:
        names = [f"{r.name} ({rule_mode(r)})" for r in rules if kind in expand_kinds(r.on)]
        if names:
            lines.append(f"  {kind}: {', '.join(names)}")
    disabled = [r.name for r in config.rules if not r.enabled]
    if disabled:
        lines.append(f"  disabled: {', '.join(disabled)}")
    for name, spec in config.notifiers.items():
        lines.append(f"  notifier {name}: {spec.get('type', '?')}")
    return "\n".join(lines)
