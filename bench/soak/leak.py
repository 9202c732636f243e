"""The long soak: `alertbot run` at a mainnet-like rate; RSS and open fds over time, and slopes.

The rate takes its scale from the block (a dYdX v4 block is about a second) and its proportions
from the project's realistic mix (`bench/source_throughput.py`: per block height message about
144 single-level book updates, 6 markets messages, 4 subaccount updates, 2 trades). Per second,
for one trader watching BTC-USD and ETH-USD: one block, 2 price moves per market (each an
`oraclePrices` update plus the 10 to 40 book levels it changes) and the oracle heartbeat, one
order placed and one cancelled, and one fill (fills, orders, positions, a trade). The measured
per-channel rates come from the bot's own /metrics (batched: at most 4 messages/s per
subscription, each carrying many updates).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import socket
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from alertbot.sim import SimSettings, Simulator, load_scenario
from bench.soak.bot import spawn, terminate, write_rules
from bench.soak.runner import SETTLE, wait_for
from bench.soak.sink import Webhook
from bench.soak.tally import ACC, Filler, Outcome, outcome, recovered, watched

EQUITY_RULE = """  - name: equity-low
    on: account
    when: equity < 100
    notify: [hook]
    title: "Equity {{ equity }}"
"""


@dataclass
class Samples:
    """(seconds since start, RSS MB, open fds) every `every` seconds."""

    points: list[tuple[float, float, int]] = field(default_factory=list)

    def write(self, path: Path) -> None:
        """The samples as CSV (seconds, rss_mb, fds)."""
        rows = [f"{t:.1f},{rss:.2f},{fds}" for t, rss, fds in self.points]
        path.write_text("seconds,rss_mb,fds\n" + "\n".join(rows) + "\n", encoding="utf-8")

    def slope(self, column: int, after: float = 0.0) -> float:
        """Least-squares slope per minute of column 1 (RSS) or 2 (fds), from `after` seconds."""
        pts = [(p[0], float(p[column])) for p in self.points if p[0] >= after]
        if len(pts) < 2:
            return 0.0
        mx = sum(x for x, _ in pts) / len(pts)
        my = sum(y for _, y in pts) / len(pts)
        sxx = sum((x - mx) ** 2 for x, _ in pts)
        sxy = sum((x - mx) * (y - my) for x, y in pts)
        return 60.0 * sxy / sxx if sxx else 0.0


def measure(pid: int) -> tuple[float, int]:
    """RSS in MB and the number of open file descriptors of `pid` (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    rss = int(match.group(1)) / 1024 if match else 0.0
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


@dataclass
class SoakReport:
    """The soak's figures."""

    seconds: float
    samples: Samples
    rates: dict[str, float]
    row: Outcome

    def text(self) -> str:
        """A few lines for the console and docs/soak.md."""
        first, last = self.samples.points[0], self.samples.points[-1]
        warm = min(60.0, self.seconds / 4)
        half = self.seconds / 2
        rates = ", ".join(f"{ch} {rate:.1f}/s" for ch, rate in sorted(self.rates.items()))
        return "\n".join(
            [
                f"soak {self.seconds:.0f} s, {len(self.samples.points)} samples: "
                f"RSS {first[1]:.1f} -> {last[1]:.1f} MB, fds {first[2]} -> {last[2]}",
                f"slope over the whole run: RSS {self.samples.slope(1):+.3f} MB/min, "
                f"fds {self.samples.slope(2):+.3f} fds/min",
                f"slope after {warm:.0f} s of warm-up: RSS {self.samples.slope(1, warm):+.3f} "
                f"MB/min, fds {self.samples.slope(2, warm):+.3f} fds/min",
                f"slope over the second half: RSS {self.samples.slope(1, half):+.3f} MB/min, "
                f"fds {self.samples.slope(2, half):+.3f} fds/min",
                f"messages received (bot's /metrics): {sum(self.rates.values()):.1f}/s: {rates}",
            ]
        )


async def _market(sim: Simulator, stop: asyncio.Event) -> None:
    prices = {"BTC-USD": 60000.0, "ETH-USD": 3000.0}
    rng = random.Random(1)
    resting: list[str] = []
    tick = 0
    while not stop.is_set():
        for ticker, price in prices.items():
            prices[ticker] = price * (1 + rng.uniform(-2e-4, 2e-4))
            sim.set_price(ticker, round(prices[ticker], 1))
        if tick % 2 == 0:
            resting.append(sim.place_order(ACC, "ETH-USD", "BUY", 0.01, 2000.0))
            if len(resting) > 1:
                sim.cancel_order(resting.pop(0))
        tick += 1
        await asyncio.sleep(0.5)


def _metrics(port: int) -> Counter[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    counts: Counter[str] = Counter()
    for match in re.finditer(r'alertbot_messages_total\{channel="([^"]+)"\} ([0-9.e+]+)', text):
        counts[match.group(1)] += float(match.group(2))
    return counts


async def run_soak(seconds: float, every: float = 5.0) -> SoakReport:
    """Run the bot for `seconds` under the market load, sampling RSS and fds."""
    settings = SimSettings(block_interval=1.0, oracle_interval=1.0)
    async with Simulator(load_scenario("demo"), settings) as sim:
        hook = Webhook()
        await hook.start()
        try:
            with tempfile.TemporaryDirectory(prefix="soak-leak-") as tmp:
                return await _soak(sim, hook, Path(tmp), seconds, every)
        finally:
            await hook.stop()


async def _soak(
    sim: Simulator, hook: Webhook, tmp: Path, seconds: float, every: float
) -> SoakReport:
    port = _free_port()
    spec = "{type: webhook, url: " + f'"{hook.url()}"' + "}"
    path = write_rules(
        tmp / "rules.yaml", sim, {"hook": spec}, extra_rules=EQUITY_RULE, http="true"
    )
    text = path.read_text(encoding="utf-8").replace('"127.0.0.1:0"', f'"127.0.0.1:{port}"')
    path.write_text(text, encoding="utf-8")
    proc = await spawn(path, tmp / "bot.log")
    samples = Samples()
    stop = asyncio.Event()
    filler = Filler(sim, every=1.0)
    try:
        await wait_for(lambda: watched(sim), 30, "the subscription")
        market = asyncio.create_task(_market(sim, stop), name="soak-market")
        filler.start()
        before = _metrics(port)
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < seconds:
            samples.points.append((elapsed, *measure(proc.pid)))
            await asyncio.sleep(every)
        samples.points.append((time.monotonic() - start, *measure(proc.pid)))
        after = _metrics(port)
        duration = time.monotonic() - start
        stop.set()
        await market
        await filler.stop()
        expected = {fill.id for fill in filler.fills}
        await recovered(hook.tally, expected, time.monotonic(), SETTLE)
    finally:
        await terminate(proc)
    rates = {ch: (after[ch] - before[ch]) / duration for ch in after}
    params = f"{seconds:.0f} s, mainnet-like rate, a fill every 1 s"
    row = outcome("soak", params, expected, hook.tally, recovery=None)
    return SoakReport(seconds, samples, rates, row)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
