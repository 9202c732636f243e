"""Whose state an identity is: one subaccount's, the market's (the leader's) or this process's.

A cluster hands rule state over with the accounts (and the leader lease); this says, from a
rule's identity labels alone, which of the three an identity belongs to. A rule is:

- **account-scoped** when every kind it listens to has `address` and `subaccount` (or
  `parent_subaccount`) among its identity labels (the natural key of account events, or its
  `group_by`): an identity's scope is `address/number`, the subaccount its events came from;
- **market-wide** when every kind is market data (`market`, `trade`, `orderbook`, `candle`,
  `block`): scope MARKET, the leader's;
- otherwise **local** (transport events, identities across accounts such as `group_by:
  [ticker]` on fills, mixed kinds): scope LOCAL, each process's own, never handed over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Data not tied to an account: market-wide rules run on the cluster's leader only.
MARKET_KINDS = frozenset({"market", "trade", "orderbook", "candle", "block"})
MARKET = "@market"  # the scope of market-wide identities
LOCAL = ""  # the scope of identities that stay with the process
NUMBERS = ("subaccount", "parent_subaccount")

Scoper = Callable[[Any], str]  # a rule's identity key -> its scope


def scoper(kinds: tuple[str, ...], fields: dict[str, tuple[str, ...]], oneoff: bool) -> Scoper:
    """The scope function of one rule (its kinds and identity fields per kind).

    One-off rules key an identity as (kind, label values, occurrence ids).
    """
    if kinds and all(k in MARKET_KINDS for k in kinds):
        return lambda key: MARKET
    where: dict[str, tuple[int, int]] = {}
    for kind in kinds:
        labels = fields[kind]
        number = next((n for n in NUMBERS if n in labels), None)
        if "address" not in labels or number is None:
            return lambda key: LOCAL
        where[kind] = (labels.index("address"), labels.index(number))
    if not where:
        return lambda key: LOCAL
    if not oneoff and len(set(where.values())) == 1:  # level keys carry no kind
        (at, num) = next(iter(where.values()))
        return lambda key: _account(key, at, num)

    def of_oneoff(key: Any) -> str:
        kind, labels, _ids = key
        found = where.get(kind)
        return LOCAL if found is None else _account(labels, *found)

    return of_oneoff if oneoff else (lambda key: LOCAL)


def _account(values: Any, at: int, num: int) -> str:
    address, number = values[at], values[num]
    if isinstance(address, str) and isinstance(number, int) and not isinstance(number, bool):
        return f"{address}/{number}"
    return LOCAL


def account_of(scope: str) -> tuple[str, int] | None:
    """(address, number) of an account scope; None for MARKET and LOCAL."""
    address, _, number = scope.rpartition("/")
    if not address or not number.isdigit():
        return None
    return address, int(number)
