"""Alert titles and messages: Jinja2 in its immutable sandbox, compiled once, checked statically."""

from __future__ import annotations

import operator
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, UndefinedError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing as _MISSING

from alertbot.rules.template_limits import (
    TemplateProblem,
    bound,
    check_arguments,
    check_format,
    check_replace,
    collect,
    loop_budget,
)

MAX_TEMPLATE = 4000  # characters of template source
MAX_OUTPUT = 4000  # characters of rendered text kept (Telegram's limit is 4096)
MAX_REPEAT = 10_000  # longest string or list `*` may build


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, bounded: what a template builds and how long it runs.

    `*` and `**`, `%` and `str.format` width specs, every call's numeric arguments, `range`
    (counted against a per-render loop budget) and the output are capped, so no template can
    exhaust memory or the CPU (see template_limits.py).
    """

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        """Refuse huge repetitions, exponents and format widths; everything else as usual."""
        if operator_ == "**":
            if not isinstance(right, int | float) or abs(right) > 100:
                raise TemplateProblem("exponent too large in template")
            return float(left) ** right
        if operator_ == "%":
            if isinstance(left, str):
                check_format(left)
            return operator.mod(left, right)
        for seq, n in ((left, right), (right, left)):
            sized = isinstance(seq, str | list | tuple) and isinstance(n, int)
            if sized and n * len(seq) > MAX_REPEAT:
                raise TemplateProblem("repetition too large in template")
        return operator.mul(left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Every call from a template: sizes, `str.format` widths and `replace` bounded."""
        name = getattr(__obj, "__name__", "")
        check_arguments(name, args, kwargs)
        # jinja hands str.format over wrapped (functools.update_wrapper keeps __wrapped__)
        text = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(text, str):
            if name in ("format", "format_map"):
                check_format(text)
            elif name == "replace" and len(args) >= 2:
                check_replace(text, args[0], args[1])
        return super().call(__context, __obj, *args, **kwargs)


class UndefinedVariable(UndefinedError):
    """A template used a name its context lacks; `name` says which (None for an attribute)."""

    def __init__(self, message: str, name: str | None) -> None:
        super().__init__(message)
        self.name = name


class NamedUndefined(StrictUndefined):
    """Strict, and every use fails naming the variable (round, format, abs... included)."""

    __slots__ = ()

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        """Raise UndefinedVariable: jinja's message, and the bare name when it is a variable."""
        try:
            self._fail_with_undefined_error()
        except UndefinedError as exc:
            top = self._undefined_obj is _MISSING and isinstance(self._undefined_name, str)
            raise UndefinedVariable(str(exc), self._undefined_name if top else None) from None

    __str__ = __iter__ = __len__ = __bool__ = __eq__ = __ne__ = __hash__ = __call__ = _fail
    __getitem__ = __contains__ = __float__ = __int__ = __complex__ = __neg__ = __pos__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __pow__ = __rpow__ = _fail
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _fail
    __lt__ = __le__ = __gt__ = __ge__ = _fail
    __round__ = __format__ = __abs__ = __index__ = __trunc__ = __floor__ = __ceil__ = _fail
    __lshift__ = __rshift__ = __and__ = __or__ = __xor__ = __invert__ = __reversed__ = _fail


@lru_cache(maxsize=1)
def environment() -> _Sandbox:
    """The one shared sandbox: strict about undefined names so `check` catches typos."""
    env = _Sandbox(undefined=NamedUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters["pct"] = lambda value, digits=2: f"{float(value) * 100:.{int(digits)}f}%"
    env.filters["usd"] = lambda value, digits=2: f"{float(value):,.{int(digits)}f} USD"
    bound(env)
    return env


class Template:
    """A compiled template; `render` never raises (a broken render yields a readable fallback)."""

    __slots__ = ("_compiled", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._compiled = environment().from_string(check_template(source))

    def render(self, context: Mapping[str, Any]) -> str:
        """Rendered text, truncated to MAX_OUTPUT; on error the source and the reason."""
        try:
            return self.render_strict(context)
        except Exception as exc:  # user templates must never break the loop
            return f"{self.source} (template error: {exc})"[:MAX_OUTPUT]

    def names(self) -> frozenset[str]:
        """Top-level variables the template reads (static analysis: what `check` compares)."""
        return frozenset(meta.find_undeclared_variables(environment().parse(self.source)))

    def render_strict(self, context: Mapping[str, Any]) -> str:
        """Rendered text; raises on undefined names or sandbox violations (used by `check`).

        Rendering stops once MAX_OUTPUT characters are out, under a fresh loop budget.
        """
        with loop_budget():
            return collect(self._compiled.generate(context), MAX_OUTPUT)


def check_template(source: Any) -> str:
    """Parse a template and refuse private attributes statically; return the source."""
    if not isinstance(source, str):
        raise TemplateProblem("expected template text")
    if len(source) > MAX_TEMPLATE:
        raise TemplateProblem(f"template is longer than {MAX_TEMPLATE} characters")
    try:
        tree = environment().parse(source)
    except TemplateError as exc:
        raise TemplateProblem(f"template syntax error: {exc}") from None
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        _refuse_private(node)
    return source


def _refuse_private(node: nodes.Node) -> None:
    name: Any = getattr(node, "attr", None)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        name = node.arg.value
    elif isinstance(node, nodes.Filter):
        first = node.args[0] if node.name == "attr" and node.args else None
        name = first.value if isinstance(first, nodes.Const) else None
    if isinstance(name, str) and name.startswith("_"):
        raise TemplateProblem(f"access to {name!r} is not allowed in templates")
