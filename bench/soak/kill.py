"""The bot: SIGKILL at random moments, over many cycles, with a fill every 0.5 s.

A real `alertbot run` per cycle, one state dir for all of them, the default 5 s
`group_interval` (so fills wait in their group when the kill comes). A duplicate is documented
when it was in flight at a kill: its earlier copy was in the last message the receiver accepted
before that kill (a notifier sends one message at a time, docs/delivery.md).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from alertbot.sim import SimSettings, Simulator, load_scenario
from bench.soak.bot import kill, spawn, terminate, write_rules
from bench.soak.runner import SETTLE, wait_for
from bench.soak.sink import Tally, Webhook
from bench.soak.tally import Filler, Outcome, outcome, recovered, watched

IN_QUEUE = 0.5  # a fill this close to a kill may not have reached the engine (250 ms batches)


@dataclass
class KillPlan:
    """How many cycles, how long each bot lives and stays dead (uniform random, seconds)."""

    cycles: int = 20
    up: tuple[float, float] = (0.3, 4.0)
    down: tuple[float, float] = (0.0, 1.0)
    expect_downtime: bool = False  # fills made while no bot watched are expected (catch-up)
    seed: int = 9


def classify(tally: Tally, kills: list[float]) -> tuple[int, int]:
    """(duplicates, of which in flight at a kill)."""
    last_before = {}
    for moment in kills:
        before = [copy.message for copy in tally.copies if copy.at < moment]
        if before:
            last_before[moment] = max(before)
    seen: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for copy in tally.copies:
        seen[copy.fill].append((copy.at, copy.message))
    total = allowed = 0
    for copies in seen.values():
        for (at, message), (later, _) in itertools.pairwise(copies):
            total += 1
            if any(at < k < later and last_before.get(k) == message for k in kills):
                allowed += 1
    return total, allowed


async def run_kills(plan: KillPlan) -> Outcome:
    """The cycles, then one last bot that catches up; count at the webhook."""
    rng = random.Random(plan.seed)
    settings = SimSettings(block_interval=1.0, oracle_interval=5.0)
    async with Simulator(load_scenario("demo"), settings) as sim:
        hook = Webhook()
        await hook.start()
        try:
            with tempfile.TemporaryDirectory(prefix="soak-kill-") as tmp:
                return await _cycles(plan, rng, sim, hook, Path(tmp))
        finally:
            await hook.stop()


async def _cycles(
    plan: KillPlan, rng: random.Random, sim: Simulator, hook: Webhook, tmp: Path
) -> Outcome:
    spec = "{type: webhook, url: " + f'"{hook.url()}"' + "}"
    path = write_rules(tmp / "rules.yaml", sim, {"hook": spec}, group_interval="5s")
    log = tmp / "bot.log"
    alive = {"now": False}
    filler = Filler(sim, watching=lambda: alive["now"] and watched(sim))
    kills: list[float] = []
    for cycle in range(plan.cycles):
        proc = await spawn(path, log)
        alive["now"] = True
        if cycle == 0:  # the first start is a baseline (docs/delivery.md): fill from its snapshot
            await wait_for(lambda: watched(sim), 30, "the first bot's subscription")
            filler.start()
        await asyncio.sleep(rng.uniform(*plan.up))
        alive["now"] = False
        kills.append(time.monotonic())
        await kill(proc)
        await wait_for(lambda: not watched(sim), 10, "the killed bot's socket to close")
        await asyncio.sleep(rng.uniform(*plan.down))
    proc = await spawn(path, log)
    started = time.monotonic()
    await wait_for(lambda: watched(sim), 30, "the last bot's subscription")
    alive["now"] = True
    await asyncio.sleep(3.0)
    await filler.stop()
    at_kill = {f.id for f in filler.fills if any(0 <= k - f.at < IN_QUEUE for k in kills)}
    accepted = {f.id for f in filler.fills if f.watched and f.id not in at_kill}
    expected = {f.id for f in filler.fills} if plan.expect_downtime else accepted
    recovery = await recovered(hook.tally, expected, started, SETTLE)
    await terminate(proc)
    total, allowed = classify(hook.tally, kills)
    unwatched = {f.id for f in filler.fills if not f.watched} | at_kill
    told = hook.tally.fills()
    note = (
        f"{len(unwatched)} fills made while no bot watched or <{IN_QUEUE} s before a kill, "
        f"{len(told & unwatched)} told"
        + ("" if plan.expect_downtime else " (not expected before catch-up)")
    )
    params = (
        f"{plan.cycles} SIGKILLs, up {plan.up[0]}-{plan.up[1]} s, down {plan.down[0]}-"
        f"{plan.down[1]} s, fill every 0.5 s, group_interval 5 s"
    )
    lost = [f for f in filler.fills if f.id in expected - told]
    if lost:
        note += "; lost, seconds before the next kill: " + ", ".join(
            f"{min((k - f.at for k in kills if k > f.at), default=-1):.2f}" for f in lost
        )
    row = outcome("SIGKILL cycles", params, expected, hook.tally, recovery=recovery, note=note)
    row.duplicated, row.allowed = total, allowed
    return row
