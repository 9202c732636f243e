"""A rule whose condition goes over the evaluation budget: skipped, counted, then disabled once."""

from __future__ import annotations

from alertbot.config_load import check_text
from alertbot.rules.engine import DISABLED
from tests.rules.helpers import HEAD, brief, engine, ev

RULES = """
- {name: greedy, on: account, when: "len(address * subaccount) > 0"}
- {name: low, on: account, when: equity < 1000}
"""


def test_over_budget_events_are_skipped_then_the_rule_is_disabled_with_one_notice():
    eng = engine(RULES)
    huge = ev("account", subaccount=100_000, equity=2000)  # 43 chars x 100,000: over budget
    notes = [n for i in range(5) for n in eng.process(huge, float(i))]
    assert [(n.rule, n.severity, n.labels) for n in notes] == [
        (DISABLED, "error", {"rule": "greedy"})
    ]
    assert notes[0].at == 2.0  # on the third strike
    assert "greedy" in notes[0].title
    assert "more than 100,000 values" in notes[0].message
    stats = eng.stats["greedy"]
    assert (stats.over_budget, stats.events, stats.matched) == (3, 3, 0)  # then not evaluated
    assert eng.disabled == {"greedy": "repetition would hold more than 100,000 values"}
    # the other rules keep working
    assert brief(eng.process(ev("account", equity=900), 10.0)) == [(10.0, "low", "firing")]


def test_a_single_over_budget_event_only_skips_that_event():
    eng = engine(RULES)
    eng.process(ev("account", subaccount=100_000, equity=2000), 0.0)
    notes = eng.process(ev("account", subaccount=1, equity=2000), 1.0)
    assert brief(notes) == [(1.0, "greedy", "firing")]
    assert eng.stats["greedy"].over_budget == 1
    assert not eng.disabled


def test_check_refuses_a_condition_that_goes_over_budget_on_a_sample_event():
    bomb = "len(str([[[1]*10000]*10000]*10000)) > 0"
    text = HEAD + f"rules:\n  - name: bomb\n    on: account\n    when: '{bomb}'\n"
    result = check_text(text, "rules.yaml", env={})
    assert [(p.key, p.message) for p in result.problems] == [
        (
            "rules[0].when",
            "over the evaluation budget on a sample account event: "
            "repetition would hold more than 100,000 values",
        )
    ]
