"""Rule-engine throughput: events/s with 1, 100 and 1,000 rules on events normalized from captures.

Run: .venv/bin/python bench/rules_throughput.py [--frames 40000] [--runs 5]
The events come from `capture_stream` (real captured bodies in the live proportions, through a
fresh Normalizer); the rules from `rule_mix` (`bench/rules-100.yaml` is its 100-rule set). The
engine gets one event at a time with the time as an argument (1 ms apart) and a tick every
simulated second, as in live mode. Each rule count runs indexed and unindexed (the reference
engine, every rule sees every event of its kinds) alternately; medians of `--runs` rounds.
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from capture_stream import events
from rule_mix import rules_yaml

from alertbot.config_load import parse_config
from alertbot.core.model import Event
from alertbot.rules import Engine

SETS = [  # (label, rule count, spread over more subjects)
    ("1", 1, True),
    ("100", 100, True),
    ("1,000 (10x the subjects)", 1000, True),
    ("1,000 (same subjects)", 1000, False),
]


def run_once(engine: Engine, stream: list[Event]) -> tuple[float, int]:
    """CPU seconds to process the stream, ticking every simulated second; notifications sent.

    CPU time of this process, not wall time: the machine is shared, and the engine is one
    thread that never waits, so its CPU time is what it costs.
    """
    sent = 0
    process, tick = engine.process, engine.tick
    gc.collect()
    start = time.process_time()
    for i, event in enumerate(stream):
        now = event.at
        sent += len(process(event, now))
        if i % 1000 == 999:
            sent += len(tick(now))
    return time.process_time() - start, sent


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-reference", action="store_true", help="skip the unindexed engine")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # rules warn once each about fields some events lack
    stream = events(args.frames)
    print(
        f"{len(stream)} events normalized from {args.frames} capture-derived frames, "
        f"median of {args.runs} runs, Python {sys.version.split()[0]}"
    )
    print(f"{'rules':<26} | {'events/s':>10} | {'us/event':>8} | {'unindexed':>10} | notified")
    print("-" * 26 + "-+------------+----------+------------+---------")
    for label, count, spread in SETS:
        config = parse_config(rules_yaml(count, spread=spread), "bench.yaml", env={})
        rates: list[float] = []
        refs: list[float] = []
        sent = ref_sent = 0
        for _ in range(args.runs):
            elapsed, sent = run_once(Engine(config), stream)
            rates.append(len(stream) / elapsed)
            if not args.no_reference:
                elapsed, ref_sent = run_once(Engine(config, indexed=False), stream)
                refs.append(len(stream) / elapsed)
        rate = statistics.median(rates)
        ref = f"{statistics.median(refs):>10,.0f}" if refs else f"{'-':>10}"
        same = "" if not refs or ref_sent == sent else f" (unindexed: {ref_sent}!)"
        print(f"{label:<26} | {rate:>10,.0f} | {1e6 / rate:>8.2f} | {ref} | {sent}{same}")


if __name__ == "__main__":
    main()
