"""Identities on the hot path: specialised keys and the alert table's first-label counts."""

from __future__ import annotations

import pytest

from alertbot.core.model import Event
from alertbot.rules.identity import AlertTable, key_fn, key_of
from alertbot.rules.lifecycle import Alert, Key
from tests.rules.helpers import brief, engine, ev


@pytest.mark.parametrize(
    "fields", [(), ("ticker",), ("address", "subaccount"), ("conn",), ("a", "b", "c")]
)
def test_specialised_keys_equal_key_of(fields: tuple[str, ...]) -> None:
    values = ["BTC-USD", 0, 1.5, True, None, ["list"], {"d": 1}, ("t",)]
    for value in values:
        for other in values:
            event = Event("market", 0.0, {"ticker": value, "address": other, "a": value}, 3)
            event.data.update(subaccount=value, b=other)
            assert key_fn(fields)(event) == key_of(fields, event)


def _alert(key: Key) -> Alert:
    return Alert("r", key, {}, "f", Event("market", 0.0, {}))


def test_the_alert_table_counts_alerts_per_first_label_value() -> None:
    table = AlertTable()
    table[("BTC-USD", 0)] = _alert(("BTC-USD", 0))
    table[("BTC-USD", 1)] = _alert(("BTC-USD", 1))
    table[("BTC-USD", 1)] = _alert(("BTC-USD", 1))  # replaced: still one
    table[("ETH-USD", 0)] = _alert(("ETH-USD", 0))
    assert table.firsts == {"BTC-USD": 2, "ETH-USD": 1}
    del table[("BTC-USD", 0)]
    assert table.pop(("ETH-USD", 0)).key == ("ETH-USD", 0)
    assert table.pop(("ETH-USD", 0), None) is None
    assert table.firsts == {"BTC-USD": 1}
    on = Event("market", 0.0, {"ticker": "BTC-USD"})
    off = Event("market", 0.0, {"ticker": "SOL-USD"})
    odd = Event("market", 0.0, {"ticker": ["unhashable"]})  # its key is a repr: look it up
    assert (table.may_hold("ticker", on), table.may_hold("ticker", off)) == (True, False)
    assert table.may_hold("ticker", odd)
    assert table.may_hold(None, off)
    with pytest.raises(TypeError):
        table.update({})
    table.clear()
    assert table.firsts == {}
    assert not table.may_hold(None, off)


def test_a_false_condition_builds_a_key_only_when_an_alert_could_have_it() -> None:
    eng = engine("""
        - {name: halted, on: market, when: "status != 'ACTIVE'", group_wait: 0s,
           group_interval: 0s}
    """)
    rule = eng.by_name["halted"]
    built: list[str] = []
    key = rule.keys["market"]
    rule.keys["market"] = lambda event: built.append(event.data["ticker"]) or key(event)
    notes = eng.process(ev("market", ticker="BTC-USD", status="PAUSED"), 0.0)
    assert rule.alerts.firsts == {"BTC-USD": 1}
    assert built == ["BTC-USD"]
    for t in range(1, 4):  # other markets, active: no alert could be theirs
        notes += eng.process(ev("market", ticker="ETH-USD", status="ACTIVE"), float(t))
    assert built == ["BTC-USD"]
    notes += eng.process(ev("market", ticker="BTC-USD", status="ACTIVE"), 5.0)
    assert built == ["BTC-USD", "BTC-USD"]
    assert brief(notes) == [(0.0, "halted", "firing"), (5.0, "halted", "resolved")]
