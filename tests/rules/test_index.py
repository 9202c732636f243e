"""The rule index: what it files where; it decides exactly what the unindexed engine decides."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertbot.core.model import Notification
from alertbot.rules import Engine
from tests.rules.helpers import ADDR, config, engine, ev, run

OTHER = "dydx1kzsvkf2ghjqlysuffdkhcdctknl4rsvcx5hkm5"
TICKERS = ["BTC-USD", "ETH-USD", "SOL-USD"]
SIDES = ["BUY", "SELL"]
LABELS: dict[str, dict[str, list[Any]]] = {  # per kind: label -> values events and rules use
    "market": {"ticker": TICKERS, "status": ["ACTIVE", "PAUSED"]},
    "orderbook": {"ticker": TICKERS},
    "account": {"address": [ADDR, OTHER], "subaccount": [0, 1]},
    "fill": {"address": [ADDR, OTHER], "subaccount": [0, 1], "ticker": TICKERS, "side": SIDES},
    "order.filled": {"address": [ADDR, OTHER], "ticker": TICKERS, "side": SIDES},
}  # fmt: skip
NUMBER = {"market": "oracle_price", "orderbook": "spread_bps", "account": "equity",
          "fill": "size", "order.filled": "size"}  # fmt: skip


def explain(eng: Engine) -> dict[str, str]:
    return {name: entry.why for name, entry in eng.index.entries.items()}


def test_label_equalities_are_indexed_with_every_field_together():
    eng = engine(f"""
        - {{name: btc, on: market, when: "ticker == 'BTC-USD' and oracle_price > 1"}}
        - {{name: mine, on: account,
            when: "equity < 5 and address == '{ADDR}' and subaccount == 0"}}
        - {{name: majors, on: fill, when: "ticker in ['BTC-USD', 'ETH-USD']"}}
        - {{name: any, on: market, when: "oracle_price > 1"}}
        - {{name: either, on: market, when: "ticker == 'BTC-USD' or oracle_price > 1"}}
        - {{name: pooled, on: market, when: "ticker == 'BTC-USD'", group_by: []}}
        - {{name: pooled-count, on: fill, when: "side == 'BUY'", group_by: [],
            count: 2, within: 1m}}
    """)
    assert explain(eng) == {
        "btc": "ticker == 'BTC-USD'",
        "mine": f"address == '{ADDR}' and subaccount == 0",
        "majors": "ticker in ['BTC-USD', 'ETH-USD']",
        "any": "`when` has no `label == value` conjunct",
        "either": "`when` has no `label == value` conjunct",
        # a level rule pooling tickers into one alert: another ticker's event resolves it
        "pooled": "ticker not in its identity (group_by)",
        # a count ignores events its filter rejects: indexing is exact whatever the identity
        "pooled-count": "side == 'BUY'",
    }


def test_an_event_reaches_only_the_rules_its_labels_match():
    eng = engine("""
        - {name: btc, on: market, when: "ticker == 'BTC-USD'"}
        - {name: eth, on: market, when: "ticker == 'ETH-USD'"}
        - {name: any, on: market, when: "oracle_price > 0"}
    """)
    route = eng.index.route("market")
    assert [rt.name for rt in route.match({"ticker": "ETH-USD"})] == ["eth", "any"]
    assert [rt.name for rt in route.match({"ticker": "DOGE-USD"})] == ["any"]
    assert [rt.name for rt in route.match({"ticker": ["unhashable"]})] == ["any"]
    eng.process(ev("market", ticker="ETH-USD"), 1.0)
    assert (eng.stats["btc"].events, eng.stats["eth"].events, eng.stats["any"].events) == (0, 1, 1)


def test_a_pooled_level_alert_still_resolves_on_another_tickers_event():
    rules = "- {name: pooled, on: market, when: \"ticker == 'BTC-USD'\", group_by: []}"
    timeline = [(0, ev("market", ticker="BTC-USD")), (5, ev("market", ticker="ETH-USD"))]
    notes = run(engine(rules), timeline, 6)
    assert [(n.at, n.status) for n in notes] == [(0, "firing"), (5, "resolved")]


def test_a_disabled_rule_leaves_the_index():
    eng = engine("- {name: btc, on: market, when: \"ticker == 'BTC-USD'\"}")
    eng.disable(eng.by_name["btc"], "test")
    assert eng.index.route("market").match({"ticker": "BTC-USD"}) == ()


# -- the property: indexed and unindexed engines decide the same --------------------------------


@st.composite
def rule(draw: st.DrawFn, i: int) -> str:
    kind = draw(st.sampled_from(sorted(LABELS)))
    labels, number = LABELS[kind], NUMBER[kind]
    threshold = draw(st.sampled_from([1, 50, 100, 1000, 70000]))
    numeric = f"{number} {draw(st.sampled_from(['<', '>']))} {threshold}"
    equalities = []
    for field in draw(st.lists(st.sampled_from(sorted(labels)), max_size=2, unique=True)):
        values = labels[field]
        if draw(st.booleans()):
            equalities.append(f"{field} == {draw(st.sampled_from(values))!r}")
        else:
            picked = draw(st.lists(st.sampled_from(values), min_size=1, max_size=2))
            equalities.append(f"{field} in {picked!r}")
    shape = draw(st.sampled_from(["and", "and", "or", "none", "eq-only"]))
    parts = [*equalities, numeric]
    if shape == "and":
        parts = draw(st.permutations(parts))
        when: str | None = " and ".join(parts)
    elif shape == "or":
        when = " or ".join(parts)
    elif shape == "eq-only":
        when = " and ".join(equalities) if equalities else numeric
    else:
        when = None
    body = {"name": f"r{i}", "on": kind}
    if when:
        body["when"] = when
    mode = draw(st.sampled_from(["plain", "plain", "for", "resolve", "change", "count", "absent"]))
    if mode == "for":
        body["for"] = "3s"
    elif mode == "resolve" and kind not in ("fill", "order.filled"):
        body["resolve_when"] = f"{number} {'>' if '<' in numeric else '<'} {threshold}"
    elif mode == "change":
        body["change"] = {
            "of": number,
            "within": "10s",
            "by_pct": draw(st.sampled_from(["<= -5", ">= 5"])),
        }
    elif mode == "count":
        body.update(count=2, within="5s")
    elif mode == "absent":
        body["absent"] = "4s"
    group = draw(st.sampled_from(["default", "default", "none", "one"]))
    if group == "none":
        body["group_by"] = []
    elif group == "one":
        body["group_by"] = [draw(st.sampled_from(sorted(labels)))]
    body.update(group_wait="0s", group_interval="0s", repeat="0s")
    return "- " + _flow(body)


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return '"' + str(value).replace('"', '\\"') + '"'


@st.composite
def timeline(draw: st.DrawFn) -> list[tuple[float, Any]]:
    out = []
    for _ in range(draw(st.integers(1, 40))):
        kind = draw(st.sampled_from(sorted(LABELS)))
        fields: dict[str, Any] = {f: draw(st.sampled_from(v)) for f, v in LABELS[kind].items()}
        fields[NUMBER[kind]] = draw(
            st.sampled_from([0.5, 10.0, 60.0, 99.0, 500.0, 1500.0, 80000.0])
        )
        if kind in ("fill", "order.filled"):
            fields["id" if kind == "fill" else "order_id"] = f"x{len(out)}"
        out.append((draw(st.integers(0, 30)), ev(kind, **fields)))
    return out


def _decisions(notes: list[Notification]) -> list[tuple[Any, ...]]:
    return [(n.at, n.rule, n.status, n.labels, n.fingerprint, n.title, n.message) for n in notes]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 8).flatmap(lambda n: st.tuples(*(rule(i) for i in range(n)))), timeline())
def test_the_indexed_engine_decides_exactly_what_the_unindexed_one_decides(rules, events):
    logging.disable(logging.WARNING)
    try:
        cfg = config("\n".join(rules))
        indexed, reference = Engine(cfg), Engine(cfg, indexed=False)
        assert _decisions(run(indexed, events, 40)) == _decisions(run(reference, events, 40))
        assert indexed.drain_state() == reference.drain_state()
        assert [(a.rule, a.state, a.labels) for a in indexed.active_alerts()] == [
            (a.rule, a.state, a.labels) for a in reference.active_alerts()
        ]
    finally:
        logging.disable(logging.NOTSET)


def test_a_filed_rule_evaluates_only_what_its_route_does_not_guarantee():
    eng = engine(f"""
        - {{name: btc, on: market, when: "ticker == 'BTC-USD' and oracle_price > 1"}}
        - {{name: only, on: market, when: "ticker == 'BTC-USD'",
            change: {{of: oracle_price, within: 1m, by: ">= 5"}}}}
        - {{name: unlisted, on: market, when: "ticker == None and oracle_price > 1"}}
        - {{name: mine, on: account,
            when: "equity < 5 and address == '{ADDR}' and subaccount == 0"}}
    """)
    rest = {name: e.rest and e.rest.source for name, e in eng.index.entries.items()}
    # a None constant stays: the route reads None for a missing field, the expression raises
    assert rest == {
        "btc": "oracle_price > 1",
        "only": None,
        "unlisted": "ticker == None and oracle_price > 1",
        "mine": "equity < 5",
    }
    btc = eng.by_name["btc"].when
    assert btc is not None
    assert btc({"oracle_price": 2}) is True
    assert eng.by_name["only"].when is None
    full = Engine(eng.config, indexed=False).by_name["btc"].when  # the reference reads it all
    assert full is not None
    with pytest.raises(NameError):
        full({"oracle_price": 2})
