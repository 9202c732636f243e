"""The shipped rules.yaml renders every message it can send: each rule's title and message,
firing and resolved, with the sample event of every kind that can reach it, strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertbot.config_load import load_config
from alertbot.rules.build import NullSink, build_rule
from alertbot.rules.config import expand_kinds
from alertbot.rules.template_check import situation_context, situations

ROOT = Path(__file__).resolve().parent.parent.parent
CONFIG = load_config(ROOT / "rules.yaml", env={})


@pytest.mark.parametrize("rule", CONFIG.rules, ids=lambda r: r.name)
def test_every_shipped_message_renders_for_every_event_that_reaches_it(rule) -> None:
    rt = build_rule(rule, CONFIG, NullSink())
    cases = list(situations(rt))
    firing = {c.event.kind for c in cases if c.status == "firing"}
    resolved = {c.event.kind for c in cases if c.status == "resolved"}
    assert firing >= set(rt.kinds)
    assert resolved >= set(expand_kinds(rule.resolve_on or ()))
    for case in cases:
        ctx = situation_context(rt, case)
        for template in (rt.title, rt.message):
            text = template.render_strict(ctx)  # raises on any undefined name
            assert text.strip(), (rule.name, case.words)
            assert "template error" not in template.render(ctx)


def test_connection_lost_says_what_happened_both_ways() -> None:
    (rule,) = [r for r in CONFIG.rules if r.name == "connection-lost"]
    rt = build_rule(rule, CONFIG, NullSink())
    texts = {c.words: rt.message.render_strict(situation_context(rt, c)) for c in situations(rt)}
    assert texts["when firing on a connection.lost event"] == "Closed with 1006 abnormal closure"
    resolved = texts["when resolved by a connection.connected event"]
    assert resolved.startswith("Connected again to wss://indexer.dydx.trade/v4/ws after ")
