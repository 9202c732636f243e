"""Incremental persistence: the per-batch commit does not grow with the number of alerts held.

For 10, 1,000 and 10,000 firing alerts (one level rule, one identity per subaccount) the engine
gets batches of one account event for a random held identity (the alert stays firing, its event
changes), and each batch's drain is saved to a SQLite state store (WAL, synchronous=normal) as
`alertbot run` does in the outbox transaction. Reported: rows written per batch, and the p50,
p99 and max of process + drain + save per batch.

    .venv/bin/python bench/state_tail.py [--batches 2000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alertbot.config_load import parse_config
from alertbot.rules import Engine
from alertbot.rules.samples import sample_event
from alertbot.state import open_state

ADDR = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"
RULES = f"""
source: {{subaccounts: [{ADDR}/0]}}
rules:
  - {{name: low-equity, on: account, when: equity < 1000, group_wait: 0s, repeat: 0s}}
"""


def account(number: int, equity: float, at: float):  # type: ignore[no-untyped-def]
    """An account event of subaccount `number`."""
    event = sample_event("account")
    event.data.update(subaccount=number, equity=equity)
    event.at = at
    return event


def measure(held: int, batches: int, folder: Path) -> tuple[float, list[float]]:
    """Rows per batch and the seconds of each batch's process + drain + save."""
    engine = Engine(parse_config(RULES, "bench.yaml", env={}))
    store = open_state(folder)
    now = 1.0
    for number in range(held):
        engine.process(account(number, 500.0, now), now)
    while engine.next_due() < now + 3600:  # every firing told (grouped, rendered) before timing
        now = max(now, engine.next_due())
        engine.tick(now)
    store.save(engine.drain_state(), now)
    rng = random.Random(7)
    times, rows = [], 0
    for _ in range(batches):
        now += 0.01
        started = time.perf_counter()
        engine.process(account(rng.randrange(held), rng.uniform(100, 900), now), now)
        changes = engine.drain_state()
        store.save(changes, now)
        times.append(time.perf_counter() - started)
        rows += len(changes.rules)
    store.close()
    return rows / batches, times


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=2000)
    args = parser.parse_args()
    print(
        f"{'alerts held':>11} | {'rows/batch':>10} | {'p50 ms':>7} | {'p99 ms':>7} | {'max ms':>7}"
    )
    for held in (10, 1000, 10_000):
        with tempfile.TemporaryDirectory(prefix="alertbot-bench-") as folder:
            rows, times = measure(held, args.batches, Path(folder))
        ms = sorted(t * 1000 for t in times)
        p99 = ms[int(len(ms) * 0.99) - 1]
        print(
            f"{held:>11,} | {rows:>10.2f} | {statistics.median(ms):>7.3f} | {p99:>7.3f} | "
            f"{ms[-1]:>7.3f}"
        )


if __name__ == "__main__":
    main()
