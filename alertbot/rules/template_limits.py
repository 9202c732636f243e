"""The limits of a template render: output, loop steps, widths and numbers a template may use.

Jinja's sandbox stops a template from reaching Python's internals; these stop it from using
the legitimate features to exhaust memory or the CPU (`lipsum(10**6)`, nested `range` loops,
`center(10**9)`, `'%1000000000d' | format(1)`). A template over a limit fails with
TemplateProblem, which `check` reports and a live render turns into a readable fallback.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2 import Environment

from alertbot.core.errors import AlertbotError

MAX_NUMBER = 1_000  # largest width or count a template may pass (center, indent, range...)
MAX_LOOP = 10_000  # range() steps in one render, nested loops counted together
MAX_BUILD = 100_000  # characters one filter may build (replace, join...)
_FORMAT_WIDTH = re.compile(r"%[-+ #0]*(\d+)(?:\.(\d+))?|\{[^{}]*?:[^{}]*?(\d+)(?:\.(\d+))?[^{}]*\}")
_steps: ContextVar[list[int]] = ContextVar("template_loop_steps")
# Calls and filters whose numeric arguments are sizes of what they build.
SIZED = frozenset(
    {"center", "ljust", "rjust", "zfill", "expandtabs", "indent", "wordwrap", "range", "batch"}
)


class TemplateProblem(AlertbotError, ValueError):
    """A template is malformed, uses something the sandbox forbids, or goes over a limit."""


def check_arguments(name: str, args: Iterable[Any], kwargs: dict[str, Any]) -> None:
    """Refuse a width or count beyond MAX_NUMBER in the arguments of a SIZED call or filter."""
    if name not in SIZED:
        return
    for value in (*args, *kwargs.values()):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and abs(value) > MAX_NUMBER:
            raise TemplateProblem(f"{name}(): {value} is over the limit of {MAX_NUMBER:,}")


def check_replace(text: str, old: Any, new: Any) -> None:
    """Refuse a `replace` whose result would be over MAX_BUILD characters (before building it)."""
    if isinstance(old, str) and isinstance(new, str) and old:
        size = len(text) + text.count(old) * (len(new) - len(old))
        if size > MAX_BUILD:
            raise TemplateProblem(f"replace would build more than {MAX_BUILD:,} characters")


def check_format(spec: str) -> None:
    """Refuse `%`/`format` widths and precisions beyond MAX_NUMBER."""
    for match in _FORMAT_WIDTH.finditer(spec):
        numbers = [int(g) for g in match.groups() if g]
        if any(n > MAX_NUMBER for n in numbers):
            raise TemplateProblem(f"format width over the limit of {MAX_NUMBER:,}: {spec[:40]!r}")


@contextmanager
def loop_budget() -> Iterator[None]:
    """A fresh MAX_LOOP budget for one render."""
    token = _steps.set([MAX_LOOP])
    try:
        yield
    finally:
        _steps.reset(token)


def bounded_range(*args: int) -> Iterator[int]:
    """`range` whose steps come out of the render's loop budget."""
    check_arguments("range", args, {})
    budget = _steps.get([MAX_LOOP])
    for i in range(*args):
        budget[0] -= 1
        if budget[0] < 0:
            raise TemplateProblem(f"loops ran more than {MAX_LOOP:,} steps")
        yield i


def collect(chunks: Iterator[str], limit: int) -> str:
    """Join rendered chunks until `limit` characters, then stop rendering."""
    out: list[str] = []
    size = 0
    for chunk in chunks:
        out.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return "".join(out)[:limit]


def _guarded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    # jinja passes the context or environment first to filters marked for it, then the value
    skip = 2 if hasattr(func, "jinja_pass_arg") else 1

    @functools.wraps(func)  # keeps jinja's pass_context/pass_environment markers
    def guard(*args: Any, **kwargs: Any) -> Any:
        value, params = (args[skip - 1] if len(args) >= skip else None), args[skip:]
        check_arguments(name, params, kwargs)
        if name == "format" and isinstance(value, str):
            check_format(value)
        if name == "replace" and isinstance(value, str) and len(params) >= 2:
            check_replace(value, params[0], params[1])
        return func(*args, **kwargs)

    return guard


def bound(env: Environment) -> None:
    """Apply the limits to an environment's globals and filters (once, at creation)."""
    env.globals.pop("lipsum", None)  # placeholder text has no place in an alert
    env.globals["range"] = bounded_range
    for name, func in list(env.filters.items()):
        env.filters[name] = _guarded(name, func)
