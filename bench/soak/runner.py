"""One in-process case: a bot against the simulator and a receiver, a fault, then the count."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from alertbot.sim import SimSettings, Simulator, load_scenario
from bench.soak.bot import in_process, write_rules
from bench.soak.sink import Inbox, Tally, Webhook
from bench.soak.tally import Filler, Outcome, outcome, recovered, watched

Fault = Callable[["Stage"], Awaitable[None]]
SETTLE = 60.0  # at most this long for the last fills to arrive once everything is back


@dataclass
class Stage:
    """What a fault can act on while the bot runs."""

    sim: Simulator
    hook: Webhook
    inbox: Inbox | None
    filler: Filler


@dataclass
class Case:
    """A named fault with its parameters, run against an in-process bot."""

    name: str
    params: str
    fault: Fault
    knobs: dict[str, str] = field(default_factory=dict)
    mail: bool = False  # deliver by e-mail (aiosmtpd) instead of the webhook
    warm: float = 2.0  # fills before the fault
    after: float = 3.0  # fills after recovery
    limit: float = 120.0  # longest recovery accepted


async def wait_for(predicate: Callable[[], bool], limit: float, what: str) -> None:
    """Poll `predicate` (another task's state) until it holds, at most `limit` seconds."""
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def run_case(case: Case) -> Outcome:
    """Run `case` and count what its receiver accepted against every fill made."""
    settings = SimSettings(block_interval=1.0, oracle_interval=5.0)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        async with Simulator(load_scenario("demo"), settings) as sim:
            hook = Webhook()
            await hook.start()
            inbox = Inbox(_free_port()) if case.mail else None
            if inbox is not None:
                inbox.start()
            try:
                return await _run(case, Path(tmp), Stage(sim, hook, inbox, Filler(sim)))
            finally:
                await hook.stop()
                if inbox is not None:
                    inbox.stop()


async def _run(case: Case, tmp: Path, stage: Stage) -> Outcome:
    sim, filler = stage.sim, stage.filler
    target = stage.inbox if stage.inbox is not None else stage.hook
    spec = "{type: email, url: " + f'"{target.url()}"' + "}"
    if stage.inbox is None:
        spec = "{type: webhook, url: " + f'"{target.url()}"' + "}"
    path = write_rules(tmp / "rules.yaml", sim, {"sink": spec}, **case.knobs)
    filler.watching = lambda: watched(sim)
    async with in_process(path) as run:
        await wait_for(lambda: watched(sim), 30, "the subaccount subscription")
        filler.start()
        await asyncio.sleep(case.warm)
        await case.fault(stage)
        stopped = run.ended()
        if stopped is None:
            recovery, everything = await _recover(case, target.tally, filler)
    if stopped is not None:  # it stopped itself (a blocked account): a supervisor restarts it
        async with in_process(path):
            recovery, everything = await _recover(case, target.tally, filler)
    note = "" if recovery is not None else f"not recovered within {case.limit:.0f} s"
    if stopped is not None:
        note = f"the bot stopped itself ({stopped[:80]}); restarted. {note}".strip()
    return outcome(case.name, case.params, everything, target.tally, recovery=recovery, note=note)


async def _recover(case: Case, tally: Tally, filler: Filler) -> tuple[float | None, set[str]]:
    """Recovery time from now; then fill a little longer and let everything arrive."""
    end = time.monotonic()
    recovery = await recovered(tally, filler.made_before(end), end, case.limit)
    await asyncio.sleep(case.after)
    await filler.stop()
    everything = {fill.id for fill in filler.fills}
    await recovered(tally, everything, time.monotonic(), SETTLE)
    return recovery, everything


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tally_of(stage: Stage) -> Tally:
    """The receiver the case counts at."""
    return stage.inbox.tally if stage.inbox is not None else stage.hook.tally
