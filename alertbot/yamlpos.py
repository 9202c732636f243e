"""Safe YAML loading that remembers where every key and value was, so errors can say line:column."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from alertbot.errors import Problem

Path = tuple[str | int, ...]
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Located:
    """Plain data from a YAML file plus the position of each path in it."""

    file: str
    data: Any
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)

    def where(self, path: Path) -> tuple[int, int]:
        """Line and column of the deepest known prefix of `path` (1-based; 0,0 if none)."""
        for end in range(len(path), -1, -1):
            pos = self.positions.get(path[:end])
            if pos:
                return pos
        return (0, 0)

    def problem(self, path: Path, message: str) -> Problem:
        """A Problem pointing at `path` in this file."""
        line, col = self.where(path)
        return Problem(self.file, line, col, dotted(path), message)


def dotted(path: Path) -> str:
    """`("source", "subaccounts", 2)` -> `source.subaccounts[2]`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_located(text: str, file: str, *, env: dict[str, str] | None = None) -> Located:
    """Parse YAML safely; collect syntax, duplicate-key and missing-${ENV} problems, never raise."""
    env = dict(os.environ) if env is None else env
    loc = Located(file=file, data=None)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        reason = getattr(exc, "problem", None) or str(exc)
        loc.problems.append(Problem(file, line, col, "", f"YAML syntax error: {reason}"))
        return loc
    if node is None:
        loc.data = {}
        return loc
    loc.data = _build(node, (), loc, env)
    return loc


def _build(node: yaml.Node, path: Path, loc: Located, env: dict[str, str]) -> Any:
    loc.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.SafeLoader(" ").construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool):
                loc.problems.append(loc.problem(path, "mapping keys must be plain text"))
                continue
            key = str(key) if not isinstance(key, str) else key
            child = (*path, key)
            loc.positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in out:
                loc.problems.append(loc.problem(child, f"duplicate key {key!r}"))
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
            return ""
        loc.secrets.add(env[name])
        return env[name]

    return _ENV.sub(repl, value)
