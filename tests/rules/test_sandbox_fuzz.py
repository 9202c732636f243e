"""Hypothesis against the sandboxes' budgets: no generated template or expression may take long,
build much, or fail in any way but a refusal; server strings are data, never template syntax."""

from __future__ import annotations

import contextlib
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import TemplateError

from alertbot.rules.expr import ExpressionError, OverBudget, compile_expression
from alertbot.rules.templates import MAX_OUTPUT, Template

# Pieces that each stress a budget when combined and nested.
TEMPLATE_PIECES = [
    "{{ 'x' * 9999 }}",
    "{{ ('ab' * 5000) | replace('a', 'aaaa') }}",
    "{{ 'x' | center(999) }}",
    "{{ '%999d' | format(1) }}",
    "{{ '{:>999}'.format(1) }}",
    "{% for i in range(999) %}{{ i }}{% endfor %}",
    "{% for i in range(999) %}{% for j in range(999) %}.{% endfor %}{% endfor %}",
    "{{ ticker | upper }}",
    "{{ positions | length }}",
    "{{ 9 ** 99 }}",
    "{{ [1] * 9999 }}",
]
EXPR_PIECES = ["'ab' * 9999", "[1] * 9999", "str(positions)", "equity * 9999", "len(ticker)"]
CONTEXT = {"ticker": "BTC-USD", "positions": [{"size": 1.0}] * 50, "equity": 1523.75}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TEMPLATE_PIECES), min_size=1, max_size=6))
def test_no_template_made_of_hostile_pieces_takes_long_or_builds_much(pieces):
    source = "".join(pieces)
    started = time.perf_counter()
    try:
        text = Template(source).render_strict(CONTEXT)
    except (TemplateError, ValueError):  # refused: TemplateProblem is a ValueError
        text = ""
    assert time.perf_counter() - started < 1.0
    assert len(text) <= MAX_OUTPUT


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(EXPR_PIECES), min_size=1, max_size=4),
    st.sampled_from([" * ", " + "]),
)
def test_no_expression_made_of_hostile_pieces_takes_long(pieces, op):
    source = f"len(str({op.join(pieces)})) > 0"
    started = time.perf_counter()
    with contextlib.suppress(OverBudget, ExpressionError, TypeError, ValueError):
        compile_expression(source).evaluate(CONTEXT)
    assert time.perf_counter() - started < 1.0


@given(st.text(alphabet="{}%#*_~`<>&'\"\\ab", max_size=60))
def test_server_strings_are_data_never_template_syntax(hostile):
    # a ticker, reason or market name from the server is rendered as it is, never evaluated
    rendered = Template("{{ reason }}").render_strict({"reason": hostile})
    assert rendered == hostile


def test_a_template_tag_in_a_field_stays_text():
    assert Template("{{ reason }}").render_strict({"reason": "{{ 7 * 7 }}"}) == "{{ 7 * 7 }}"
