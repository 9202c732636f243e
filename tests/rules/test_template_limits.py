"""Templates cannot exhaust memory or the CPU: every bomb is refused fast, ordinary use works."""

from __future__ import annotations

import time

import pytest

from alertbot.rules.template_limits import MAX_LOOP, TemplateProblem
from alertbot.rules.templates import MAX_OUTPUT, Template

BOMBS = {
    "nested loops": "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
    "one long range": "{% for i in range(100000) %}x{% endfor %}",
    "center width": "{{ 'x' | center(1000000000) }}",
    "indent width": "{{ 'x' | indent(1000000000) }}",
    "method width": "{{ 'x'.rjust(1000000000) }}",
    "format filter width": "{{ '%1000000000d' | format(1) }}",
    "percent operator width": "{{ '%1000000000d' % 1 }}",
    "str.format width": "{{ '{:>1000000000}'.format(1) }}",
    "replace filter growth": "{{ ('x' * 10000) | replace('x', 'xxxxxxxxxxxxxxxxxxxxxxxxxxx') }}",
    "replace method growth": "{{ ('x' * 10000).replace('x', 'xxxxxxxxxxxxxxxxxxxxxxxxxx') }}",
}


@pytest.mark.parametrize("source", BOMBS.values(), ids=BOMBS.keys())
def test_bombs_are_refused_within_a_second(source):
    started = time.perf_counter()
    with pytest.raises(TemplateProblem):
        Template(source).render_strict({})
    assert time.perf_counter() - started < 1.0


def test_lipsum_is_not_offered():
    with pytest.raises(Exception, match="lipsum"):
        Template("{{ lipsum(1000000) }}").render_strict({})


def test_output_is_cut_while_rendering_not_after():
    # 1,000 x 1,000 characters would be a megabyte; rendering stops at MAX_OUTPUT
    text = Template("{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}").render_strict({})
    assert len(text) == MAX_OUTPUT


def test_the_loop_budget_is_per_render():
    loop = Template(f"{{% for i in range({MAX_LOOP // 10}) %}}{{% endfor %}}ok")
    assert [loop.render_strict({}) for _ in range(20)] == ["ok"] * 20


def test_a_live_render_over_a_limit_falls_back_to_readable_text():
    text = Template("{{ 'x' | center(1000000000) }}").render({})
    assert "template error" in text
    assert "over the limit of 1,000" in text


def test_ordinary_templates_still_work():
    context = {"equity": 67250.123, "ticker": "BTC-USD", "positions": [1, 2, 3]}
    source = (
        "{{ ticker | center(12) }}|{{ '%.2f' | format(equity) }}|{{ '{:,.1f}'.format(equity) }}|"
        "{{ equity | round(1) }}|{% for p in positions %}{{ p }}{% endfor %}|"
        "{{ ticker.replace('-USD', '') }}|{{ '%09.1f' % equity }}"
    )
    assert Template(source).render_strict(context) == (
        "  BTC-USD   |67250.12|67,250.1|67250.1|123|BTC|0067250.1"
    )
