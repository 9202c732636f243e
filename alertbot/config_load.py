"""The one loading path of rules.yaml: every problem of the file in one pass, then a typed Config.

`check`, `run` and every other command come through here. Each stage works on what the stages
before it could validate, so a broken section, rule or notifier hides nothing else:
YAML (syntax, duplicate keys, unset ${ENV}) -> each section's schema (each rule on its own) ->
plugins -> each notifier's own model -> names -> templates. Problems are scrubbed of every
${ENV} value here, in the one place they are produced, and sorted by position.
"""

from __future__ import annotations

import difflib
import logging
import os
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

from alertbot.config import CLUSTER_NEEDS_PG, Config
from alertbot.core.errors import ConfigError, PluginError, Problem
from alertbot.core.events import KINDS
from alertbot.core.located import Located, load_located, problems_from_validation
from alertbot.core.paths import DEFAULT_STATE_DIR, PLUGINS_ENV, STATE_ENV, config_dir
from alertbot.core.secrets import remember, scrub
from alertbot.notifier_setup import Types, notifier_configs
from alertbot.notify.base import secret_values
from alertbot.plugins import make_plugin_manager
from alertbot.rules.config import RuleConfig, expand_kinds
from alertbot.rules.runtime import rule_mode
from alertbot.rules.validate import findings
from alertbot.web.config import HttpConfig

log = logging.getLogger(__name__)

LISTEN_ENV = "ALERTBOT_HTTP_LISTEN"
SEND_GRACE = 5.0  # guarded_send allows a notifier its timeout plus this (notify/base.py)
_OWN_PASS = ("notifiers",)  # validated with the plugins' models, after the plugins load


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


def load_config(path: str | os.PathLike[str], *, env: dict[str, str] | None = None) -> Config:
    """The valid, typed config of a file; ConfigError listing every located problem."""
    return _valid(check_file(path, env=env))


def parse_config(text: str, file: str, *, env: dict[str, str] | None = None) -> Config:
    """load_config on text already read (`file` names it and anchors its relative folders)."""
    return _valid(check_text(text, file, env=env))


def _valid(result: CheckResult) -> Config:
    """The config, with its warnings logged (`run` and reloads say what `check` would)."""
    if result.config is None or result.problems:
        raise ConfigError(result.problems)
    for warning in result.warnings:
        log.warning("%s (warning)", warning)
    return result.config


def check_file(path: str | os.PathLike[str], *, env: dict[str, str] | None = None) -> CheckResult:
    """Every problem and warning of a file, never raising for the file's own faults."""
    file = str(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        return CheckResult(
            file, problems=[Problem(file, 0, 0, "", f"cannot read config: {exc.strerror}")]
        )
    return check_text(text, file, env=env)


def check_text(text: str, file: str, *, env: dict[str, str] | None = None) -> CheckResult:
    """check_file on text already read."""
    env = dict(os.environ) if env is None else env
    located = load_located(text, file, env=env)
    if located.data is None and located.problems:
        return _result(located, located.problems, [], None)
    if not isinstance(located.data, dict):
        top = located.problem((), "the top level must be a mapping of keys")
        return _result(located, [*located.problems, top], [], None)
    sections, rules, schema = _sections(located)
    types, plugin_problems = _plugin_types(located, sections, env)
    notifiers, names, notifier_problems = _notifiers(located, types, complete=not plugin_problems)
    partial = Config.model_construct(**sections, notifiers=notifiers)
    cross, warnings = _cross_checks(located, partial, rules, names)
    deployment = _deployment(sections, env, file) + _token_from_env(located)
    problems = [*located.problems, *schema, *plugin_problems, *notifier_problems, *cross]
    problems += deployment
    config = None
    if not problems:
        config, problems = _final(sections, notifiers, located)
    if config is not None:
        remember(_all_secrets(config, located))
    return _result(located, problems, warnings, config)


def _all_secrets(config: Config, located: Located) -> set[str]:
    """Every ${ENV} value of the file and every secret field of every notifier."""
    found = set(located.secrets)
    for settings in config.notifiers.values():
        found.update(secret_values(settings))
    found.update(secret_values(config.state))  # the dsn (secret_parts keeps only its password)
    return found


def _cross_checks(
    located: Located, partial: Config, rules: list[tuple[int, RuleConfig]], names: list[str]
) -> tuple[list[Problem], list[Problem]]:
    """Names, fields and templates on what passed the schema: (errors, warnings)."""
    found = findings(
        partial, rules=rules, rule_names=_rule_names(located.data), notifier_names=names
    )
    named = [(f.path, f.message) for f in found if not f.warning]
    named += _other_names(partial, names)
    named += _cluster_store(partial)
    # a path already reported (an unset ${ENV} there) gets no second, derived problem
    errors = [located.problem(p, m) for p, m in named if not located.reported(p)]
    warned = [(f.path, f.message) for f in found if f.warning] + _claim_ttl(partial)
    return errors, [located.problem(p, m) for p, m in warned]


def _result(
    located: Located, problems: list[Problem], warnings: list[Problem], config: Config | None
) -> CheckResult:
    """Scrub every ${ENV} value (whatever the section), then sort by position."""

    def clean(items: list[Problem]) -> list[Problem]:
        out = [replace(p, message=scrub(p.message, located.secrets)) for p in items]
        return sorted(out, key=lambda p: (p.line, p.column))

    return CheckResult(located.file, config, clean(problems), clean(warnings))


@cache
def _adapter(name: str) -> TypeAdapter[Any]:
    info = Config.model_fields[name]
    annotation: Any = info.annotation
    if info.metadata:  # field constraints beside the type (a form mypy cannot type)
        annotation = Annotated[annotation, *info.metadata]
    return TypeAdapter(annotation)


def _sections(
    located: Located,
) -> tuple[dict[str, Any], list[tuple[int, RuleConfig]], list[Problem]]:
    """Each top-level section validated on its own; rules one by one; unknown keys named."""
    data: dict[str, Any] = located.data
    typed: dict[str, Any] = {}
    problems: list[Problem] = []
    for key in data:
        if key not in Config.model_fields:
            hint = difflib.get_close_matches(str(key), list(Config.model_fields), n=1)
            tail = f"; did you mean {hint[0]!r}?" if hint else ""
            problems.append(located.problem((key,), f"unknown key {key!r}{tail}", key=True))
    rules: list[tuple[int, RuleConfig]] = []
    for name, info in Config.model_fields.items():
        if name in _OWN_PASS or name not in data:
            if info.is_required():
                problems.append(located.problem((name,), "required key is missing", key=True))
            continue
        if name == "rules" and isinstance(data[name], list):
            rules = _rules(data[name], located, problems)
            typed[name] = [rule for _, rule in rules]
            continue
        try:
            typed[name] = _adapter(name).validate_python(data[name])
        except ValidationError as exc:
            problems += problems_from_validation(exc, located, (name,), info.annotation)
    return typed, rules, problems


def _rules(
    items: list[Any], located: Located, problems: list[Problem]
) -> list[tuple[int, RuleConfig]]:
    """The rules that pass the schema, with their index in the file (one hides no other)."""
    valid = []
    for i, item in enumerate(items):
        try:
            valid.append((i, RuleConfig.model_validate(item)))
        except ValidationError as exc:
            problems += problems_from_validation(exc, located, ("rules", i), RuleConfig)
    return valid


def _plugin_types(
    located: Located, sections: dict[str, Any], env: dict[str, str]
) -> tuple[Types, list[Problem]]:
    """Notifier types of the plugins this file loads; a load failure is a problem, not a stop."""
    folder = config_dir(located.file, sections.get("plugins_dir", "plugins"), env.get(PLUGINS_ENV))
    at = ("plugins_dir",)
    named = "plugins_dir" in located.data and not env.get(PLUGINS_ENV)  # env: may be unmounted
    if named and not Path(folder).is_dir():
        problem = located.problem(at, f"{folder} is not a folder")
        return _builtin_types(env), [problem]
    try:
        return make_plugin_manager(folder, env=env).notifier_types(), []
    except PluginError as exc:
        return _builtin_types(env), [located.problem(at, str(exc))]


def _builtin_types(env: dict[str, str]) -> Types:
    try:
        return make_plugin_manager(None, env=env).notifier_types()
    except PluginError:  # an installed entry point is broken too: reported through the folder
        return {}


def _notifiers(
    located: Located, types: Types, *, complete: bool
) -> tuple[dict[str, Any], list[str], list[Problem]]:
    """Typed notifier configs, every name written (valid or not), and their problems."""
    if "notifiers" not in located.data:
        default = dict(Config.model_fields["notifiers"].default)
        return default, list(default), []
    raw = located.data["notifiers"]
    typed, problems = notifier_configs(raw, located, types, all_types=complete)
    names = [str(n) for n in raw] if isinstance(raw, dict) else []
    return typed, names, problems


def _rule_names(data: dict[str, Any]) -> list[str]:
    rules = data.get("rules")
    items = rules if isinstance(rules, list) else []
    return [r["name"] for r in items if isinstance(r, dict) and isinstance(r.get("name"), str)]


def _cluster_store(partial: Config) -> list[tuple[tuple[str | int, ...], str]]:
    """A cluster needs the shared store (Config says so too; here it names the key)."""
    state = getattr(partial, "state", None)
    if getattr(partial, "cluster", None) is None or (state and state.backend == "postgresql"):
        return []
    return [(("cluster",), CLUSTER_NEEDS_PG)]


def _claim_ttl(partial: Config) -> list[tuple[tuple[str | int, ...], str]]:
    """A shared outbox claim shorter than a send lets a second replica send the row again."""
    state = getattr(partial, "state", None)
    if state is None or state.backend != "postgresql":
        return []
    delivery = getattr(partial, "delivery", None)
    floor = delivery.timeout if delivery is not None else 0.0
    sends = {
        name: max(floor, settings.timeout + SEND_GRACE)
        for name, settings in (getattr(partial, "notifiers", None) or {}).items()
    }
    if not sends:
        return []
    name, longest = max(sends.items(), key=lambda item: item[1])
    if state.claim_ttl > longest:
        return []
    return [
        (
            ("state", "claim_ttl"),
            f"{state.claim_ttl:g}s is not longer than a send to {name!r} may take "
            f"({longest:g}s: its timeout plus {SEND_GRACE:g}s): a replica whose claim expires "
            "mid-send lets another send the same rows again; raise it above that",
        )
    ]


def _other_names(partial: Config, names: list[str]) -> list[tuple[tuple[str | int, ...], str]]:
    """Notifier names outside the rules: delivery's fallback and rate limits, the digest's."""
    out: list[tuple[tuple[str | int, ...], str]] = list(partial.delivery.name_problems(names))
    digest = partial.jobs.digest
    for j, name in enumerate((digest.notify or []) if digest else []):
        if name not in names:
            known = ", ".join(names) or "none"
            out.append((("jobs", "digest", "notify", j), f"no notifier named {name!r} ({known})"))
    return out


def _token_from_env(located: Located) -> list[Problem]:
    """http.token written in the file is refused: it would leak with every copy of the file."""
    http = located.data.get("http") if isinstance(located.data, dict) else None
    token = http.get("token") if isinstance(http, dict) else None
    if token is None or token in located.secrets or located.reported(("http", "token")):
        return []
    return [located.problem(("http", "token"), "write the token as ${ENV}, not in the file")]


def _deployment(sections: dict[str, Any], env: dict[str, str], file: str) -> list[Problem]:
    """Env overrides and folders: state_dir and plugins_dir below the file (core/paths.py)."""
    sections["state_dir"] = config_dir(
        file, sections.get("state_dir", DEFAULT_STATE_DIR), env.get(STATE_ENV)
    )
    sections["plugins_dir"] = config_dir(
        file, sections.get("plugins_dir", "plugins"), env.get(PLUGINS_ENV)
    )
    listen = env.get(LISTEN_ENV)
    if not listen:
        return []
    http: HttpConfig = sections.get("http", HttpConfig())
    try:
        sections["http"] = HttpConfig.model_validate({**http.model_dump(), "listen": listen})
    except ValidationError as exc:
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        return [Problem(file, 0, 0, LISTEN_ENV, message)]
    return []


def _final(
    sections: dict[str, Any], notifiers: dict[str, Any], located: Located
) -> tuple[Config | None, list[Problem]]:
    """The whole Config from sections that each passed (validating again costs little)."""
    try:
        return Config.model_validate({**sections, "notifiers": notifiers}), []
    except ValidationError as exc:  # a cross-section rule of Config itself
        return None, problems_from_validation(exc, located, (), Config)


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
        lines.append(f"  notifier {name}: {spec.type}")
    return "\n".join(lines)
