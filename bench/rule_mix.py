"""Realistic rule sets for the benches: mostly per ticker and per account, a few global rules.

`bench/rules-100.yaml` is `rules_yaml(100)` (regenerate with `python bench/rule_mix.py 100`).
Thresholds are set around the captured prices so that some rules fire during a run. With
`spread=True` a larger set watches more subjects (all captured tickers and up to 100
subaccounts) and keeps the 10 global rules of the 100-rule set, as a user with 1,000 rules
does; without it, it repeats the 100-rule mix on the same subjects (10 times the global rules too).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from capture_stream import markets_snapshot, subaccount_ids, tickers

PER_TICKER = [  # (kind, body) with {t} the ticker and {p} its captured oracle price
    (
        "market",
        "when: ticker == '{t}'\n    change: {{of: oracle_price, within: 5m, by_pct: '<= -{k}'}}",
    ),
    (
        "market",
        "when: ticker == '{t}'\n    change: {{of: oracle_price, within: 5m, by_pct: '>= {k}'}}",
    ),
    ("market", "when: ticker == '{t}' and oracle_price > {hi}\n    for: 10s"),
    ("market", "when: ticker == '{t}' and oracle_price < {lo}"),
    ("orderbook", "when: ticker == '{t}' and spread_bps > {k}0\n    for: 30s"),
    ("market", "when: ticker == '{t}' and abs(next_funding_rate) > 0.000{k}"),
]
PER_ACCOUNT = [  # {a} the address, {n} the subaccount number
    (
        "account",
        "when: address == '{a}' and subaccount == {n} and equity < {k}00\n    for: 1m\n"
        "    resolve_when: equity > {k}20",
    ),
    ("account", "when: address == '{a}' and subaccount == {n} and margin_usage > 0.{k}"),
    (
        "account",
        "when: address == '{a}' and subaccount == {n}\n"
        "    change: {{of: equity, within: 1h, by_pct: '<= -{k}'}}",
    ),
    ("fill", "when: address == '{a}' and subaccount == {n} and (liquidated or deleveraged)"),
    ("fill", "when: address == '{a}' and subaccount == {n} and notional > {k}"),
    ("order.canceled", "when: address == '{a}' and subaccount == {n} and total_filled > 0"),
    ("position.*", "when: address == '{a}' and subaccount == {n} and unrealized_pnl < -{k}0"),
]
GLOBAL = [
    ("block", "absent: 1m"),
    ("connection.reconnect", "count: 5\n    within: 10m"),
    ("fill", "when: liquidated"),
    ("market", "when: status != 'ACTIVE'"),
    ("transfer", "when: size > {k}000"),
]  # fmt: skip
# of every 20 rules: 9 per ticker, 9 per account, 2 global
PATTERN = ["t"] * 9 + ["a"] * 9 + ["g"] * 2


def rules_yaml(count: int, *, spread: bool = True) -> str:
    """`count` rules in the mix above, as a rules file alertbot accepts."""
    n_tickers = min(98, max(30, count // 10)) if spread else 30
    n_subs = min(100, max(10, count // 10)) if spread else 10
    names = tickers(n_tickers)
    subs = subaccount_ids(n_subs)
    snap = markets_snapshot()["contents"]["markets"]
    body, counters = [], {"t": 0, "a": 0, "g": 0}
    for i in range(count):
        group = PATTERN[i % len(PATTERN)]
        if spread and group == "g" and counters["g"] >= 10:
            group = "t" if i % 2 else "a"
        j = counters[group]
        counters[group] += 1
        k = 1 + (j // 7) % 9
        if group == "t":
            kind, text = PER_TICKER[j % len(PER_TICKER)]
            t = names[(j // len(PER_TICKER)) % len(names)]
            p = float(snap[t]["oraclePrice"])
            text = text.format(
                t=t, k=k, hi=f"{p * (1 + k / 100):.6g}", lo=f"{p * (1 - k / 100):.6g}"
            )
        elif group == "a":
            kind, text = PER_ACCOUNT[j % len(PER_ACCOUNT)]
            address, _, number = subs[(j // len(PER_ACCOUNT)) % len(subs)].rpartition("/")
            text = text.format(a=address, n=number, k=k)
        else:
            kind, text = GLOBAL[j % len(GLOBAL)]
            text = text.format(k=k)
        body.append(
            f"  - name: r{i:04d}-{kind.replace('*', 'any')}\n    on: '{kind}'\n    {text}\n"
        )
    head = (
        f"# {count} rules for the benches: bench/rule_mix.py rules_yaml({count}).\n"
        f"source: {{subaccounts: [{subs[0]}], markets: [{names[0]}]}}\n"
        "rules:\n"
    )
    return head + "".join(body)


if __name__ == "__main__":
    sys.stdout.write(rules_yaml(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
