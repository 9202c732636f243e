"""Which replica an identity's state belongs to: a subaccount's, the leader's, or local."""

from __future__ import annotations

from alertbot.config_load import parse_config
from alertbot.core.scope import LOCAL, MARKET, account_of
from alertbot.rules.engine import Engine

ADDRESS = "dydx199tqg4wdlnu4qjlxchpd7seg454937hjrknju4"
RULES = f"""
version: 1
source: {{subaccounts: [{ADDRESS}/0]}}
rules:
  - {{name: fills, on: fill}}
  - {{name: low, on: account, when: usdc < 5}}
  - {{name: quiet, on: fill, absent: 1m}}
  - {{name: per-market, on: fill, count: 3, within: 1m, group_by: [ticker]}}
  - {{name: price, on: market, when: oracle_price > 1}}
  - {{name: link, on: connection.lost}}
  - {{name: risky, on: risk.parent, when: equity < 1}}
"""


def test_identities_map_to_their_subaccount_the_market_or_stay_local():
    engine = Engine(parse_config(RULES, "rules.yaml", env={}))
    scope = engine.scopes
    assert scope["fills"](("fill", (ADDRESS, 3, "f1"), ("f1",))) == f"{ADDRESS}/3"
    assert scope["low"]((ADDRESS, 2)) == f"{ADDRESS}/2"
    assert scope["quiet"]((ADDRESS, 0)) == f"{ADDRESS}/0"
    assert scope["risky"](("risk.parent", (ADDRESS, 1), ())) == f"{ADDRESS}/1"  # a one-off
    assert scope["low"]((None, None)) == LOCAL  # no account in the values
    assert scope["per-market"](("BTC-USD",)) == LOCAL  # across accounts
    assert scope["price"](("BTC-USD",)) == MARKET
    assert scope["link"]((0,)) == LOCAL
    assert account_of(f"{ADDRESS}/129") == (ADDRESS, 129)
    assert account_of(MARKET) is None
    assert account_of(LOCAL) is None
