"""What a shard take-over's rule-state load costs: the gained rows read by scope, then adopted.

10,000 subaccounts (`--accounts`), each with `--ids` remembered fill ids (a one-off rule's
dedup rows) and one pending `for` alert; a third is gained and adopted by a fresh engine.
Per round (`--rounds`), wall and CPU time of: reading every row (the first version's load),
reading the gained scopes by index (`load_scopes`, what a take-over does), and the adoption.
The server is ALERTBOT_BENCH_PG (default postgresql://postgres@127.0.0.1:5432/postgres);
a throwaway database is created and dropped.

    .venv/bin/python -m bench.handover_load [--accounts 10000] [--ids 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import psycopg

from alertbot.config_load import parse_config
from alertbot.rules.engine import Engine
from alertbot.state.api import RuleStateChange
from alertbot.state.config import StateConfig
from alertbot.state.postgres import PgStore

T = TypeVar("T")
ADDRESS = "dydx199tqg4wdlnu4qjlxchpd7seg454937hjrknju4"
RULES = f"""
version: 1
source: {{subaccounts: [{ADDRESS}/0]}}
rules:
  - {{name: fills, on: fill}}
  - {{name: low, on: account, when: usdc < 500, for: 30s}}
"""


def pending(n: int) -> dict[str, Any]:
    """A pending level alert of subaccount n, as the engine saves it."""
    data = {"address": ADDRESS, "subaccount": n, "usdc": 400.0}
    return {"alert": {
        "key": [ADDRESS, n], "labels": {"address": ADDRESS, "subaccount": str(n)},
        "fingerprint": "f" * 16, "event": {"kind": "account", "at": 1e9, "data": data, "conn": 0},
        "state": "pending", "holds": True, "changed_at": 1e9, "since": 1e9, "starts_at": 0.0,
        "ends_at": None, "notified": None, "last_notified_at": 0.0, "flapping": False, "flips": [],
    }}  # fmt: skip


def rows(engine: Engine, accounts: int, ids: int) -> list[RuleStateChange]:
    """What the store holds for `accounts` subaccounts."""
    fills, low = engine.by_name["fills"], engine.by_name["low"]
    out = []
    for n in range(accounts):
        for i in range(ids):
            fill = f"fill-{n}-{i}"
            key = fills.encode_key(("fill", (ADDRESS, n, fill), (fill,)))
            scope = engine.scopes["fills"](fills.decode_key(key))
            out.append(RuleStateChange("fills", engine.digests["fills"], key, {"seen": 1e9}, scope))
        key = low.encode_key((ADDRESS, n))
        scope = engine.scopes["low"](low.decode_key(key))
        out.append(RuleStateChange("low", engine.digests["low"], key, pending(n), scope))
    return out


def timed(work: Callable[[], T]) -> tuple[T, tuple[float, float]]:
    """work()'s result, and its wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = work()
    return out, (time.perf_counter() - wall, time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--ids", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = os.environ.get("ALERTBOT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"alertbot_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        config = parse_config(RULES, "rules.yaml", env={})
        dsn = server.rsplit("/", 1)[0] + f"/{name}"
        store = PgStore.open(StateConfig.model_validate({"backend": "postgresql", "dsn": dsn}))
        store.rules.apply(rows(Engine(config), args.accounts, args.ids), 1e9)
        gained = {f"{ADDRESS}/{n}" for n in range(0, args.accounts, 3)}
        for round_ in range(args.rounds):
            every, all_time = timed(store.rules.load)
            loaded, read = timed(lambda: store.rules.load_scopes(sorted(gained), ()))
            taken, adopt = timed(partial(Engine(config).adopt, loaded, gained.__contains__))
            print(
                f"round {round_}: all {len(every)} rows read in {all_time[0]:.3f}s "
                f"({all_time[1]:.3f}s CPU); the gained {len(loaded)} by scope in {read[0]:.3f}s "
                f"({read[1]:.3f}s CPU); {taken} adopted in {adopt[0]:.3f}s ({adopt[1]:.3f}s CPU)"
            )
        store.close()
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
