"""What the PostgreSQL backend costs against SQLite, measured in one run, same machine.

1. Frame -> webhook POST latency through the whole app (bench/latency.py's pipeline: simulator
   trades, a one-off rule per trade, outbox, webhook to a loopback server), once per backend,
   alternating, `--rounds` times; p50/p99/max over every alert of each backend.
2. Store calls as the event loop pays them: one `submit` transaction (outbox row + rule
   state), one `due` (a claim, on PostgreSQL) and one `mark_sent`, in microseconds.
3. Deliveries per second through the outbox: N rows drained by one Delivery to a notifier
   that answers at once (max_batch 1: one row per message, the outbox's own ceiling), and by
   two Deliveries on two stores sharing one PostgreSQL outbox (two replicas' claims).

The server is ALERTBOT_BENCH_PG (default postgresql://postgres@127.0.0.1:5432/postgres); a
throwaway database is created and dropped.

    .venv/bin/python -m bench.pg_latency [--rate 100] [--seconds 5] [--rounds 2] [--rows 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import orjson
import psycopg

from alertbot.app import App
from alertbot.config_load import parse_config
from alertbot.core.model import Notification, notice
from alertbot.notify.base import Notifier, SendResult
from alertbot.notify.config import NotifierConfig
from alertbot.notify.delivery import Delivery
from alertbot.notify.delivery_config import DeliveryConfig
from alertbot.sim import SimSettings, Simulator, load_scenario
from alertbot.state import StateStore, open_state
from alertbot.state.api import RuleStateChange, StateChanges
from alertbot.state.config import StateConfig
from bench.latency import Hook, config_text, drive, epoch

ADMIN = os.environ.get("ALERTBOT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def database() -> Iterator[str]:
    name = f"alertbot_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- 1. frame -> webhook --------------------------------------------------------------------


async def one_pipeline(state_yaml: str, rate: float, seconds: float) -> list[float]:
    hook = Hook()
    server = await hook.start()
    with tempfile.TemporaryDirectory() as state:
        async with Simulator(load_scenario("basic"), SimSettings(block_interval=0)) as sim:
            text = config_text(sim, hook.port, state) + state_yaml
            config = parse_config(text, "bench.yaml")
            app = App(config, config_path=Path(state) / "bench.yaml")
            bot = asyncio.create_task(app.run())
            await asyncio.sleep(1.0)  # connect and take the snapshots (not measured)
            hook.posts.clear()
            hook.alerts, hook.expected = 0, int(rate * seconds)
            await drive(sim, rate, seconds)
            await asyncio.wait_for(hook.all_in.wait(), 60)
            app.stop()
            await bot
    server.close()
    return [
        (arrived - epoch(alert["event"]["created_at"])) * 1000
        for arrived, body in hook.posts
        for alert in orjson.loads(body)["alerts"]
    ]


async def pipelines(dsn: str, args: argparse.Namespace) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
    pg_yaml = f"state: {{backend: postgresql, dsn: '{dsn}'}}\n"
    for _ in range(args.rounds):
        for backend, extra in (("sqlite", ""), ("postgresql", pg_yaml)):
            if backend == "postgresql":
                empty(dsn)
            found[backend] += await one_pipeline(extra, args.rate, args.seconds)
    return found


# -- 2. store calls -------------------------------------------------------------------------


def note(i: int) -> Notification:
    return notice("bench", "firing", f"alert {i}", "a message of ordinary length", ("hook",), 1.0)


def store_calls(store: StateStore, n: int) -> dict[str, list[float]]:
    """Microseconds per call, as the event loop is blocked by each."""
    out: dict[str, list[float]] = {"submit": [], "due": [], "mark_sent": []}
    for i in range(n):
        change = StateChanges((RuleStateChange("bench", "d", f"[{i % 50}]", {"v": i}),))
        t0 = time.perf_counter()
        with store.transaction():
            store.outbox.add(note(i), "hook", 1.0)
            store.save(change, 1.0)
        t1 = time.perf_counter()
        rows = store.outbox.due("hook", 1)
        t2 = time.perf_counter()
        store.outbox.mark_sent([r.id for r in rows], 2.0)
        t3 = time.perf_counter()
        out["submit"].append((t1 - t0) * 1e6)
        out["due"].append((t2 - t1) * 1e6)
        out["mark_sent"].append((t3 - t2) * 1e6)
    return out


# -- 3. deliveries per second ---------------------------------------------------------------


class Instant(Notifier):
    """Answers ok at once: what is measured is the outbox, not a service."""

    type = "instant"

    def __init__(self, name: str, count: Callable[[int], None]) -> None:
        super().__init__(name, NotifierConfig(max_batch=1))
        self.count = count

    async def send(self, batch: Sequence[Notification]) -> SendResult:
        self.count(len(batch))
        return SendResult.success()

    def describe(self) -> str:
        return "instant"


async def drain_rate(stores: Sequence[StateStore], rows: int) -> float:
    """Rows/s from `rows` pending to none pending, one Delivery per store."""
    for i in range(rows):
        stores[0].outbox.add(note(i), "hook", 1.0)
    done = asyncio.Event()
    sent = [0]

    def count(n: int) -> None:
        sent[0] += n
        if sent[0] >= rows:
            done.set()

    runs = [Delivery(s, {"hook": Instant("hook", count)}, DeliveryConfig()) for s in stores]
    t0 = time.perf_counter()
    for run in runs:
        await run.start()
    await asyncio.wait_for(done.wait(), 300)
    elapsed = time.perf_counter() - t0
    for run in runs:
        await run.stop(timeout=1)
    assert sent[0] == rows, f"sent {sent[0]} of {rows}: a row went twice"
    return rows / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    with database() as dsn:
        pg = StateConfig.model_validate({"backend": "postgresql", "dsn": dsn})
        lat = await pipelines(dsn, args)
        print(f"1. frame -> webhook POST, {args.rate:.0f} trades/s x {args.seconds:.0f}s x "
              f"{args.rounds} rounds per backend (ms):")  # fmt: skip
        for backend, values in lat.items():
            print(f"   {backend:<10} n={len(values):<5} p50 {pct(values, .5):6.2f}  "
                  f"p99 {pct(values, .99):6.2f}  max {max(values):6.2f}  "
                  f"mean {statistics.fmean(values):6.2f}")  # fmt: skip
        ratio = pct(lat["postgresql"], 0.5) / pct(lat["sqlite"], 0.5)
        print(f"   p50 ratio postgresql/sqlite: {ratio:.2f}")
        with tempfile.TemporaryDirectory() as tmp:
            empty(dsn)
            calls = {"sqlite": open_state(tmp), "postgresql": open_state(tmp, config=pg)}
            print(f"2. store calls, {args.calls} each (us, loop blocked for it): p50 / p99")
            for backend, store in calls.items():
                found = store_calls(store, args.calls)
                text = "  ".join(
                    f"{k} {pct(v, 0.5):6.0f} / {pct(v, 0.99):6.0f}" for k, v in found.items()
                )
                print(f"   {backend:<10} {text}")
                store.close()
        with tempfile.TemporaryDirectory() as tmp:
            empty(dsn)
            print(f"3. deliveries/s through the outbox ({args.rows} rows, max_batch 1):")
            one = open_state(tmp)
            print(f"   sqlite, 1 delivery:          {await drain_rate([one], args.rows):8.0f}")
            one.close()
            a = open_state(tmp, config=pg)
            print(f"   postgresql, 1 delivery:      {await drain_rate([a], args.rows):8.0f}")
            b = open_state(tmp, config=pg)
            two = await drain_rate([a, b], args.rows)
            print(f"   postgresql, 2 stores/claims: {two:8.0f}  (one process, one loop)")
            a.close()
            b.close()


if __name__ == "__main__":
    asyncio.run(main())
