"""Rule-engine throughput: events/s with 1, 100 and 1,000 rules over a realistic event mix.

Run: .venv/bin/python bench/rules_throughput.py [--events 100000] [--runs 5]
The engine gets one event at a time with the time as an argument (1 ms apart: 1,000 events/s of
simulated traffic) and a tick every simulated second, as in live mode. Medians of several runs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alertbot.config_load import parse_config
from alertbot.core.model import Event
from alertbot.rules import Engine
from alertbot.rules.samples import SAMPLES

ADDR = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"
MIX = {  # share of each kind in a busy live stream (order book and trades dominate)
    "orderbook": 35,
    "trade": 30,
    "market": 10,
    "account": 5,
    "order.opened": 2,
    "order.filled": 2,
    "order.canceled": 1,
    "fill": 5,
    "block": 5,
    "candle": 3,
    "position.changed": 2,
}
TEMPLATES = [  # (kind, rule body): realistic conditions, most of them rarely true
    ("account", "when: equity < {n}000\n    for: 30s\n    resolve_when: equity >= {n}100"),
    ("account", "when: margin_usage > 0.{n}5 and position_count > 0"),
    ("account", "change: {{of: equity, within: 1h, by_pct: '<= -{n}'}}"),
    ("orderbook", "when: spread_bps > {n}0 and ticker == 'BTC-USD'\n    for: 10s"),
    ("market", "when: abs(price_change_24h_pct) > {n}"),
    ("trade", "when: notional > {n}00000 and liquidation"),
    ("trade", "when: size * price > {n}000000"),
    ("fill", "when: liquidated or deleveraged"),
    ("order.filled", 'when: ticker in ["BTC-USD", "ETH-USD"] and size > {n}'),
    ("order.*", "when: reduce_only and remaining == 0"),
    ("block", "absent: {n}m"),
    ("candle", "when: high - low > close * 0.0{n}"),
    ("position.*", "when: unrealized_pnl < -{n}00"),
    ("connection.reconnect", "count: {n}\n    within: 2m"),
]


def rules_yaml(count: int) -> str:
    """`count` rules cycling through the templates with varied thresholds."""
    out = []
    for i in range(count):
        kind, body = TEMPLATES[i % len(TEMPLATES)]
        n = 1 + (i // len(TEMPLATES)) % 9
        out.append(f"  - name: r{i}\n    on: '{kind}'\n    {body.format(n=n)}\n")
    head = f"source: {{subaccounts: [{ADDR}/0], markets: [BTC-USD, ETH-USD]}}\nrules:\n"
    return head + "".join(out)


def events(count: int, seed: int = 7) -> list[Event]:
    """A reproducible stream following MIX, with jittered numbers and a few tickers."""
    rng = random.Random(seed)
    kinds = rng.choices(list(MIX), weights=list(MIX.values()), k=count)
    out = []
    for i, kind in enumerate(kinds):
        data = dict(SAMPLES[kind])
        for key, value in data.items():
            if isinstance(value, float):
                data[key] = value * rng.uniform(0.9, 1.1)
        data["ticker"] = rng.choice(["BTC-USD", "ETH-USD", "SOL-USD"]) if "ticker" in data else None
        if "id" in data:
            data["id"] = f"{kind}-{i}"
        out.append(Event(kind, i / 1000, data, 0))
    return out


def run_once(engine: Engine, stream: list[Event]) -> float:
    """Seconds to process the stream, ticking every simulated second."""
    start = time.perf_counter()
    process, tick = engine.process, engine.tick
    for i, event in enumerate(stream):
        now = event.at
        process(event, now)
        if i % 1000 == 999:
            tick(now)
    return time.perf_counter() - start


def measure(rule_count: int, stream: list[Event], runs: int) -> tuple[float, int]:
    """Median events/s over fresh engines, and notifications of one run."""
    config = parse_config(rules_yaml(rule_count), "bench.yaml", env={})
    rates = []
    for _ in range(runs):
        engine = Engine(config)
        rates.append(len(stream) / run_once(engine, stream))
    notified = sum(s.notifications for s in engine.stats.values())
    return statistics.median(rates), notified


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    stream = events(args.events)
    print(f"{args.events} events, median of {args.runs} runs, Python {sys.version.split()[0]}")
    print(f"{'rules':>6} | {'events/s':>10} | {'us/event':>8} | alerts notified")
    print("-------+------------+----------+----------------")
    for count in (1, 100, 1000):
        rate, notified = measure(count, stream, args.runs)
        print(f"{count:>6} | {rate:>10,.0f} | {1e6 / rate:>8.2f} | {notified}")


if __name__ == "__main__":
    main()
