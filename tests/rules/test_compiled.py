"""Compiled expressions (a function of the fields) agree with the reference `eval` of the code."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertbot.rules.expr import MAX_CELLS, ExpressionError, OverBudget, compile_expression

NAMES = ["equity", "ticker", "size", "flag", "positions", "pos", "missing", "tags", "nothing"]
DATA = st.fixed_dictionaries(
    {},
    optional={
        "equity": st.one_of(st.floats(allow_nan=True), st.integers(-(10**6), 10**6)),
        "ticker": st.sampled_from(["BTC-USD", "eth-usd", "", "x" * 60_000]),
        "size": st.one_of(st.floats(-10, 10), st.integers(-3, 3), st.none()),
        "flag": st.booleans(),
        "positions": st.lists(st.fixed_dictionaries({"size": st.floats(-5, 5)}), max_size=3),
        "pos": st.fixed_dictionaries(
            {}, optional={"size": st.integers(-5, 5), "k": st.text(max_size=3)}
        ),
        "tags": st.lists(st.text(max_size=3), max_size=3),
        "nothing": st.none(),
    },
)  # fmt: skip
LEAVES = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(["0", "1", "2.5", "-3", "1000", "'BTC-USD'", "'ab'", "True", "None", "[1, 2]"]),
    st.sampled_from(["pos['size']", "pos['k']", "positions[0]", "tags[0]", "positions[0]['size']"]),
)


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "//", "%", "**"]), inner)
    compare = st.tuples(inner, st.sampled_from(["<", ">", "==", "!=", "<=", "in", "not in"]), inner)
    logic = st.tuples(inner, st.sampled_from(["and", "or"]), inner)
    calls = st.tuples(
        st.sampled_from(["abs", "len", "str", "lower", "upper", "round", "float", "int"]), inner
    )
    two = st.tuples(st.sampled_from(["min", "max", "startswith", "endswith"]), inner, inner)
    return st.one_of(
        binary.map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        compare.map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        logic.map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda e: f"(not {e})"),
        inner.map(lambda e: f"(-{e})"),
        calls.map(lambda t: f"{t[0]}({t[1]})"),
        two.map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: f"[{', '.join(xs)}]"),
    )


OVER = f"would hold more than {MAX_CELLS:,} values"
EXPRESSIONS = st.recursive(LEAVES, _extend, max_leaves=12)


def outcome(fn: Any, data: dict[str, Any]) -> tuple[str, Any]:
    """What an evaluation gives: a value (NaN-safe), or the error's type and message."""
    try:
        value = fn(data)
    except NameError as exc:
        return "NameError", (exc.name, str(exc))
    except Exception as exc:
        return type(exc).__name__, str(exc)
    if isinstance(value, float) and math.isnan(value):
        return "value", "nan"
    return "value", repr(value)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS, DATA)
def test_compiled_and_reference_evaluation_agree(source, data):
    try:
        expression = compile_expression(source)
    except ExpressionError:
        return  # refused before evaluation, the same for both
    assert outcome(expression.fn, data) == outcome(expression.evaluate, data)


@pytest.mark.parametrize(
    ("source", "data", "expected"),
    [
        ("equity < 1000 and margin > 0.5", {"equity": 10, "margin": 0.7}, ("value", "True")),
        ("equity < 1000 or nope", {"equity": 10}, ("value", "True")),  # short-circuit kept
        ("nope > 1", {}, ("NameError", ("nope", "name 'nope' is not defined"))),
        ("pos['k'] > 1", {"pos": {}}, ("KeyError", "'k'")),  # an item, not a missing field
        ("'ab' * 99999 == ''", {}, ("OverBudget", f"repetition {OVER}")),
        ("len(str(big)) > 0", {"big": [[1] * 400] * 400}, ("OverBudget", f"str() {OVER}")),
    ],
)  # fmt: skip
def test_compiled_keeps_the_sandbox_and_the_error_kinds(source, data, expected):
    expression = compile_expression(source)
    assert outcome(expression.fn, data) == expected == outcome(expression.evaluate, data)


def test_a_field_never_shadows_a_function_nor_reaches_the_helpers():
    expression = compile_expression("len(ticker) == 7")
    assert expression.fn({"ticker": "BTC-USD", "len": "not callable"}) is True
    assert expression.fn.__globals__["__builtins__"] == {}
    with pytest.raises(OverBudget):
        compile_expression("ticker * 200000").fn({"ticker": "x"})
