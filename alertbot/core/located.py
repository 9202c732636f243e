"""Safe YAML loading that remembers where every key and value was, so errors can say line:column."""

from __future__ import annotations

import difflib
import os
import re
import typing
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from alertbot.core.errors import Problem
from alertbot.core.secrets import scrub

Path = tuple[str | int, ...]
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Located:
    """Plain data from a YAML file plus the position of each path in it."""

    file: str
    data: Any
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)  # where values start
    key_positions: dict[Path, tuple[int, int]] = field(default_factory=dict)  # where keys start
    problems: list[Problem] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    bad: set[Path] = field(default_factory=set)  # paths already reported; no second error there
    values: int = 0  # values built so far (aliases expanded): bounded by MAX_VALUES

    def reported(self, path: Path) -> bool:
        """True when a problem was already reported at `path` or a parent of it."""
        return any(path[:end] in self.bad for end in range(len(path) + 1))

    def where(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Line and column of `path`'s value (or key), else of its deepest known parent."""
        if key and path in self.key_positions:
            return self.key_positions[path]
        for end in range(len(path), -1, -1):
            pos = self.positions.get(path[:end])
            if pos:
                return pos
        return (0, 0)

    def problem(self, path: Path, message: str, *, key: bool = False) -> Problem:
        """A Problem pointing at `path` (its key with key=True) in this file."""
        line, col = self.where(path, key=key)
        return Problem(self.file, line, col, dotted(path), message)


def dotted(path: Path) -> str:
    """`("source", "subaccounts", 2)` -> `source.subaccounts[2]`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


MAX_TEXT = 1_000_000  # characters of a YAML file (a real rules file is a few KB)
MAX_VALUES = 100_000  # values once aliases are expanded (an alias bomb expands to billions)
MAX_NESTING = 50  # levels of mappings and lists


class _TooLarge(Exception):
    """The document grows past a limit while it is built."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


def load_located(text: str, file: str, *, env: dict[str, str] | None = None) -> Located:
    """Parse YAML safely and within limits; collect every problem, never raise.

    Limits: MAX_TEXT characters, MAX_VALUES values after alias expansion and MAX_NESTING
    levels, so a hostile file (an alias bomb, a deep nest) costs milliseconds, not the process.
    """
    env = dict(os.environ) if env is None else env
    loc = Located(file=file, data=None)
    if len(text) > MAX_TEXT:
        message = f"the file has {len(text):,} characters, more than the {MAX_TEXT:,} allowed"
        loc.problems.append(Problem(file, 0, 0, "", message))
        return loc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        reason = getattr(exc, "problem", None) or str(exc)
        loc.problems.append(Problem(file, line, col, "", f"YAML syntax error: {reason}"))
        return loc
    except RecursionError:
        message = f"the file nests deeper than {MAX_NESTING} levels"
        loc.problems.append(Problem(file, 0, 0, "", message))
        return loc
    if node is None:
        loc.data = {}
        return loc
    try:
        loc.data = _build(node, (), loc, env)
    except _TooLarge as exc:
        loc.data = None
        loc.problems.append(loc.problem(exc.path[:1], str(exc)))  # the top-level key
    return loc


_SAFE_TAGS = {
    f"tag:yaml.org,2002:{name}"
    for name in ("map", "seq", "str", "int", "float", "bool", "null", "timestamp")
}


def _build(node: yaml.Node, path: Path, loc: Located, env: dict[str, str]) -> Any:
    loc.values += 1
    if loc.values > MAX_VALUES:
        message = (
            f"the file expands to more than {MAX_VALUES:,} values; "
            "YAML aliases (&name / *name) repeated inside each other?"
        )
        raise _TooLarge(path, message)
    if len(path) > MAX_NESTING:
        raise _TooLarge(path, f"nested deeper than {MAX_NESTING} levels")
    loc.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if node.tag not in _SAFE_TAGS:
        loc.problems.append(loc.problem(path, f"YAML tag {node.tag!r} is not allowed here"))
        loc.bad.add(path)
        return None
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                loc.problems.append(loc.problem(path, "mapping keys must be plain text"))
                continue
            # Keys are names as written: YAML 1.1 would read a bare `on:` as True, `no:` as False.
            key = key_node.value
            child = (*path, key)
            loc.key_positions[child] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            if key in out:
                loc.problems.append(loc.problem(child, f"duplicate key {key!r}", key=True))
            out[key] = _build(value_node, child, loc, env)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), loc, env) for i, item in enumerate(node.value)]
    value = yaml.SafeLoader(" ").construct_object(node, deep=True)
    if isinstance(value, str) and "${" in value:
        return _substitute(value, path, loc, env)
    return value


def _substitute(value: str, path: Path, loc: Located, env: dict[str, str]) -> str:
    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            loc.problems.append(
                loc.problem(path, f"environment variable {name} is not set (used as ${{{name}}})")
            )
            loc.bad.add(path)
            return ""
        loc.secrets.add(env[name])
        return env[name]

    return _ENV.sub(repl, value)


def problems_from_validation(
    exc: ValidationError,
    located: Located,
    prefix: Path = (),
    model: Any = None,
    *,
    echo: bool = True,
) -> list[Problem]:
    """pydantic errors as located, human messages; unknown keys get a suggestion from `model`.

    `model` is the model (or type annotation, e.g. `list[InhibitRule] | None`) validated at
    `prefix`. Inputs are repeated only when they are not secrets (`located.secrets`), so a
    `${ENV}` value never reaches a message; with echo=False never (notifier values).
    """
    out = []
    for err in exc.errors(include_input=echo):
        path = (*prefix, *(p for p in err["loc"] if not _is_union_tag(p)))
        if located.reported(path):
            continue
        is_key = err["type"] in ("extra_forbidden", "missing")
        message = scrub(_message(err, path[len(prefix) :], model), located.secrets)
        out.append(located.problem(path, message, key=is_key))
    return out


def _is_union_tag(part: Any) -> bool:
    # pydantic inserts type names such as 'function-before[...]' into loc for unions
    return isinstance(part, str) and ("[" in part or part in {"str", "int", "float", "bool"})


def _message(err: Any, path: Path, model: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        parent = _model_at(model, path[:-1]) if model is not None else None
        allowed = list(parent.model_fields) if parent is not None else []
        hint = difflib.get_close_matches(key, allowed, n=1)
        suffix = f"; did you mean {hint[0]!r}?" if hint else ""
        return f"unknown key {key!r}{suffix}"
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if kind == "literal_error" and "input" in err:
        return f"{msg}, got {err['input']!r}"
    return msg


def _model_at(model: Any, path: Path) -> type[BaseModel] | None:
    """The model that validates the mapping at `path` below `model` (list items, dict values)."""
    current: Any = model
    for part in path:
        if isinstance(part, int) or not _is_model(current):
            current = _inner_model(current)
            if isinstance(part, int):
                continue
        if not _is_model(current):
            return None
        field = current.model_fields.get(part)
        if field is None:
            by_alias = [f for f in current.model_fields.values() if f.alias == part]
            field = by_alias[0] if by_alias else None
        if field is None:
            return None
        current = field.annotation
    found = current if _is_model(current) else _inner_model(current)
    return found if _is_model(found) else None


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _inner_model(annotation: Any) -> Any:
    """The first model inside Optional[...], list[...], dict[..., ...], Annotated[...]."""
    for arg in typing.get_args(annotation):
        if _is_model(arg):
            return arg
        inner = _inner_model(arg)
        if inner is not None:
            return inner
    return None
