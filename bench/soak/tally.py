"""Counting a case: the fills the exchange made against the copies a receiver accepted."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from alertbot.sim import Simulator
from bench.soak.sink import Tally

ACC = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art/0"  # the demo scenario's account


@dataclass
class Fill:
    """One fill made on the simulator, and whether a bot was watching when it was made."""

    id: str
    at: float  # time.monotonic()
    watched: bool


@dataclass
class Filler:
    """Makes a fill every `every` seconds (a market buy of 0.001 BTC, filled at once)."""

    sim: Simulator
    every: float = 0.5
    watching: Callable[[], bool] = lambda: True
    fills: list[Fill] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin filling in a task of its own."""
        self._task = asyncio.create_task(self._run(), name="soak-filler")

    async def stop(self) -> None:
        """Stop filling."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def fill(self) -> None:
        """One fill now."""
        side = random.choice(("BUY", "SELL"))
        order = self.sim.place_order(ACC, "BTC-USD", side, 0.001, 60000)
        fill = self.sim.fill_order(order)
        self.fills.append(Fill(fill, time.monotonic(), self.watching()))

    async def _run(self) -> None:
        start = time.monotonic()
        tick = 0
        while True:
            self.fill()
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * self.every - time.monotonic()))

    def made_before(self, moment: float) -> set[str]:
        """Ids of the fills made before `moment`."""
        return {fill.id for fill in self.fills if fill.at < moment}


def watched(sim: Simulator) -> bool:
    """A connection has the demo account's subaccount subscription (its snapshot was answered)."""
    return any(
        channel == "v4_subaccounts" and sub_id == ACC
        for session in sim._sessions  # introspection: the simulator has no public view of it
        for channel, sub_id in session.subs
    )


@dataclass
class Outcome:
    """One row of the soak table."""

    case: str
    params: str
    expected: int
    delivered: int
    lost: int
    duplicated: int
    allowed: int  # duplicates that are documented (in flight at a kill)
    recovery: float | None  # seconds; None: no fault end to recover from
    note: str = ""

    @property
    def ok(self) -> bool:
        """No loss and no undocumented duplicate."""
        return self.lost == 0 and self.duplicated <= self.allowed


def outcome(
    case: str,
    params: str,
    expected: set[str],
    tally: Tally,
    *,
    recovery: float | None,
    allowed: int = 0,
    note: str = "",
) -> Outcome:
    """Compare the fills an uninterrupted run tells (each once) with what the receiver got."""
    counts = Counter(copy.fill for copy in tally.copies)
    delivered = sum(1 for fill in expected if counts[fill])
    extra = sum(count - 1 for count in counts.values() if count > 1)
    return Outcome(
        case,
        params,
        len(expected),
        delivered,
        len(expected) - delivered,
        extra,
        allowed,
        recovery,
        note,
    )


async def recovered(tally: Tally, want: set[str], since: float, limit: float) -> float | None:
    """Seconds from `since` until every fill of `want` was delivered (None: not within `limit`)."""
    deadline = since + limit
    while not want <= tally.fills():
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(0.05)
    return max(0.0, time.monotonic() - since)


def table(rows: list[Outcome]) -> str:
    """The soak table as Markdown."""
    head = [
        "| case | parameters | expected | delivered | lost | duplicated | recovery | |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    body = []
    for row in rows:
        dup = f"{row.duplicated}" + (f" (≤{row.allowed} in flight)" if row.allowed else "")
        rec = "-" if row.recovery is None else f"{row.recovery:.1f} s"
        verdict = "ok" if row.ok else "**FAIL**"
        note = f" {row.note}" if row.note else ""
        body.append(
            f"| {row.case} | {row.params} | {row.expected} | {row.delivered} | {row.lost} "
            f"| {dup} | {rec} | {verdict}{note} |"
        )
    return "\n".join(head + body)
