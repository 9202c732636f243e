"""Notifiers from rules.yaml: `type:` picks a plugin's class, its `config_model` checks the rest.

This sits above notify and plugins (it needs the registry), so notify never imports plugins.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from alertbot.config import Config
from alertbot.core.errors import ConfigError, Problem
from alertbot.core.located import Located, problems_from_validation
from alertbot.core.secrets import scrub
from alertbot.notify.base import Notifier, NotifierTypes, RenderHook, secret_values
from alertbot.notify.config import NotifierConfig

Types = Mapping[str, type[Notifier]]


def notifier_configs(
    raw: Any, located: Located, types: Types, *, all_types: bool = True
) -> tuple[dict[str, NotifierConfig], list[Problem]]:
    """Each valid entry of `notifiers:` as its type's model, and every problem (values unsaid).

    With all_types=False (a plugin failed to load) an unknown type is not reported again.
    """
    if not isinstance(raw, dict):
        return {}, [located.problem(("notifiers",), "must be a mapping of names to notifiers")]
    typed: dict[str, NotifierConfig] = {}
    problems: list[Problem] = []
    for name, spec in raw.items():
        result = _one(str(name), spec, located, types, all_types)
        if isinstance(result, NotifierConfig):
            typed[str(name)] = result
        else:
            problems.extend(result)
    return typed, problems


def _one(
    name: str, spec: Any, located: Located, types: Types, all_types: bool
) -> NotifierConfig | list[Problem]:
    at = ("notifiers", name)
    if not isinstance(spec, dict):
        return [located.problem(at, "must be a mapping with a `type` key")]
    kind, known = spec.get("type"), ", ".join(types) or "none"
    if kind is None:
        return [
            located.problem((*at, "type"), f"required key is missing (types: {known})", key=True)
        ]
    if not isinstance(kind, str) or kind not in types:
        hint = difflib.get_close_matches(str(kind), list(types), n=1)
        tail = f"; did you mean {hint[0]!r}?" if hint else f" (types: {known})"
        message = f"unknown notifier type {kind!r}{tail}"
        return [located.problem((*at, "type"), message)] if all_types else []
    cls = types[kind]
    try:
        config = cls.config_model.model_validate(spec)
        cls(name, config)  # a notifier's own check, e.g. an Apprise URL it cannot parse; no I/O
    except ValidationError as exc:
        return problems_from_validation(exc, located, at, cls.config_model, echo=False)
    except ValueError as exc:  # scrubbed of ${ENV} values with every other problem (config_load)
        return [located.problem(at, str(exc))]
    return config


def build_notifiers(config: Config, plugins: NotifierTypes) -> dict[str, Notifier]:
    """One notifier per configured entry (already validated by the loader); ConfigError if a
    type is no longer registered or the class refuses its config."""
    types = plugins.notifier_types()
    built: dict[str, Notifier] = {}
    problems = []
    for name, settings in config.notifiers.items():
        result = _build(name, settings, types, plugins)
        if isinstance(result, Notifier):
            built[name] = result
        else:
            problems.append(Problem("config", 0, 0, f"notifiers.{name}", result))
    if problems:
        raise ConfigError(problems)
    return built


def _build(
    name: str, settings: NotifierConfig, types: Types, plugins: RenderHook
) -> Notifier | str:
    cls = types.get(settings.type)
    if cls is None:
        return f"no notifier type {settings.type!r} is registered"
    try:
        if not isinstance(settings, cls.config_model):  # a local plugin imported once more
            settings = cls.config_model.model_validate(settings.model_dump())
        return cls(name, settings, plugins=plugins)
    except ValidationError:
        return f"the {settings.type!r} notifier type no longer accepts this config"
    except ValueError as exc:
        return scrub(str(exc), _secrets(settings))


def _secrets(settings: NotifierConfig) -> list[str]:
    return list(secret_values(settings))
