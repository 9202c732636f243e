"""What the dashboard costs the bot: engine throughput with pages connected, push latency, memory.

Three processes so the bot's event loop has a core to itself, as in production: the simulator
(the Indexer, flooding or pacing oracle prices), the bot (`App` as `alertbot run` builds it,
the dashboard on, rules.yaml-like rules), and the pages: N WebSocket clients logged in with a
session cookie that read and parse every message, as the page does. (Ten real chromium pages
would need more cores than this machine has; the bot's side of a page is the same WebSocket.)

1. Throughput: the simulator publishes prices as fast as it can for `--seconds`; the bot's
   events per second are counted. Rounds alternate 0 and N pages on the same bot; medians.
2. Latency: prices paced at `--rate`/s, each a unique price, so each equity value names one
   event. Event -> page: from the moment the bot's engine has handled the batch holding the
   `account` event (instrumented here by wrapping `Board.observe`) to the moment a page has
   parsed a state showing that equity; p50/p99 over every page. For context, simulator send ->
   page too (it adds the Indexer's 250 ms batching of batched channels, which the simulator
   reproduces, and the bot's source).
3. Memory: the bot's RSS before and after connecting `--memory-pages` pages, per page.

    .venv/bin/python bench/dashboard.py [--pages 10] [--seconds 5] [--rounds 3] [--rate 50]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import tempfile
import time
import tracemalloc
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import connect

from alertbot.app import App
from alertbot.config_load import parse_config
from alertbot.sim import SimSettings, Simulator, load_scenario
from alertbot.web.auth import COOKIE, Auth

ACC = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art/0"  # the demo scenario: equity = -4800 + 0.1 P
TOKEN = "bench-token-0123456789abcdef"
RULES = """
  - {name: equity-low, on: account, when: equity < 1000, severity: critical, for: 30s}
  - {name: margin-high, on: account, when: margin_usage > 0.8, severity: error}
  - {name: btc-move, on: market, when: 'ticker == "BTC-USD" and oracle_price < 1000'}
  - {name: fills, on: fill, when: notional > 1000000}
"""


# --- the simulator process ---------------------------------------------------------------------
def sim_main(pipe: Connection) -> None:
    asyncio.run(_sim(pipe))


async def _sim(pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    async with Simulator(load_scenario("demo"), SimSettings(block_interval=0)) as sim:
        pipe.send((sim.ws_url, sim.rest_url))
        while True:
            command = await loop.run_in_executor(None, pipe.recv)
            if command[0] == "flood":
                pipe.send(await _flood(sim, command[1]))
            elif command[0] == "pace":
                pipe.send(await _pace(sim, command[1], command[2]))
            else:
                return


async def _flood(sim: Simulator, seconds: float) -> int:
    end, sent, price = time.perf_counter() + seconds, 0, 60000.0
    while time.perf_counter() < end:
        for _ in range(50):
            price = 60000.0 + (sent % 1000)
            sim.set_price("BTC-USD", price)
            sent += 1
        await asyncio.sleep(0)
    return sent


async def _pace(sim: Simulator, rate: float, seconds: float) -> dict[int, float]:
    """Unique prices (60000 + i) at `rate`/s: i -> send time."""
    sent: dict[int, float] = {}
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        sent[i] = time.time()
        sim.set_price("BTC-USD", 50000.0 + i)
        delay = start + (i + 1) / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    return sent


# --- the pages process -------------------------------------------------------------------------
def pages_main(pipe: Connection, url: str, cookie: str, count: int) -> None:
    asyncio.run(_pages(pipe, url, cookie, count))


async def _pages(pipe: Connection, url: str, cookie: str, count: int) -> None:
    seen: list[tuple[float, float]] = []  # (arrival, equity) of every message, every page
    built: list[float] = []  # seconds from the bot's build to this page's parse
    stop = asyncio.Event()

    async def page() -> None:
        shown: set[float] = set()  # a value is timed when it first appears on this page
        async with connect(url, additional_headers={"Cookie": f"{COOKIE}={cookie}"}) as ws:
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                state = orjson.loads(raw)
                now = time.time()
                for acct in state["accounts"]:
                    if acct["equity"] not in shown:  # later states repeat it (ages move on)
                        shown.add(acct["equity"])
                        seen.append((now, acct["equity"]))
                built.append(now - state["now"])

    tasks = [asyncio.create_task(page()) for _ in range(count)]
    pipe.send("connected")
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, pipe.recv)  # "stop"
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    pipe.send((seen, built))


class Pages:
    """N pages in their own process."""

    def __init__(self, url: str, cookie: str, count: int) -> None:
        self.pipe, child = mp.Pipe()
        self.proc = mp.Process(target=pages_main, args=(child, url, cookie, count), daemon=True)

    async def __aenter__(self) -> Pages:
        self.proc.start()
        await asyncio.get_running_loop().run_in_executor(None, self.pipe.recv)
        await asyncio.sleep(0.5)  # their first snapshots (not measured)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.pipe.send("stop")
        got = await asyncio.get_running_loop().run_in_executor(None, self.pipe.recv)
        self.seen, self.built = got
        self.proc.join(5)


# --- the bot (this process) --------------------------------------------------------------------
def rss() -> int:
    """Resident set size of this process, bytes."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096


def config(ws: str, rest: str, state: str) -> str:
    return f"""
version: 1
source: {{ws_url: "{ws}", rest_url: "{rest}", subaccounts: [{ACC}], markets: [BTC-USD]}}
state_dir: {state}
http: {{listen: "127.0.0.1:0", dashboard: true, token: "${{T}}"}}
notifiers: {{console: {{type: console}}}}
rules:
{RULES}"""


async def ask(pipe: Connection, *command: Any) -> Any:
    pipe.send(command)
    return await asyncio.get_running_loop().run_in_executor(None, pipe.recv)


def events(app: App) -> int:
    return sum(app.events.values())


async def throughput(app: App, sim: Connection, seconds: float) -> tuple[float, float]:
    """(events per CPU-second of the bot, events per wall second) while the simulator floods.

    Per CPU-second, because on two cores the simulator, not the bot, limits the wall rate: the
    CPU the bot spends per event is what bounds its throughput when it is the bottleneck.
    """
    await asyncio.sleep(0.5)  # settle
    before, wall, cpu = events(app), time.perf_counter(), time.process_time()
    await ask(sim, "flood", seconds)
    done = events(app) - before
    return done / (time.process_time() - cpu), done / (time.perf_counter() - wall)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--memory-pages", type=int, default=30)
    args = parser.parse_args()
    sim, child = mp.Pipe()
    sim_proc = mp.Process(target=sim_main, args=(child,), daemon=True)
    sim_proc.start()
    ws, rest = sim.recv()
    with tempfile.TemporaryDirectory() as state:
        cfg = parse_config(config(ws, rest, state), f"{state}/bench.yaml", env={"T": TOKEN})
        app = App(cfg, config_path=Path(state) / "bench.yaml", env={"T": TOKEN})
        bot = asyncio.create_task(app.run())
        await asyncio.wait_for(app.ready.wait(), 10)
        await asyncio.sleep(1.0)
        url = app.dashboard_url.replace("http://", "ws://") + "ws"
        cookie = Auth(TOKEN).new_session()
        handled: dict[float, float] = {}  # equity -> when the engine had handled its event
        board = app.board
        assert board is not None
        observe = board.observe

        def timed(batch: Any) -> None:
            now = time.time()
            for event in batch:
                if event.kind == "account":
                    handled.setdefault(round(event.data["equity"], 6), now)
            observe(batch)

        board.observe = timed  # type: ignore[method-assign]
        lags: list[tuple[float, float]] = []  # (loop lag, CPU this process used meanwhile), ms

        async def probe() -> None:
            while True:
                wall, cpu = time.perf_counter(), time.process_time()
                await asyncio.sleep(0.01)
                lag = (time.perf_counter() - wall - 0.01) * 1000
                lags.append((lag, (time.process_time() - cpu) * 1000))

        prober = asyncio.create_task(probe())
        hub = app.hub
        assert hub is not None
        build, costs = hub._build, []
        to_build: dict[float, float] = {}  # equity -> event handled -> first state built with it

        def measured(full: bool) -> dict[str, Any]:
            start = time.process_time()
            state = build(full)
            size = len(orjson.dumps(state))
            for acct in state["accounts"]:
                key = round(acct["equity"], 6)
                if key in handled and key not in to_build:
                    to_build[key] = time.time() - handled[key]
            costs.append(((time.process_time() - start) * 1000, size, full))
            return state

        hub._build = measured
        async with Pages(url, cookie, args.pages) as pages:  # before any flood: a calm bot
            sent = await ask(sim, "pace", args.rate, args.latency_seconds)
            await asyncio.sleep(1.0)  # the last pushes arrive
        board.observe = observe  # type: ignore[method-assign]
        prober.cancel()
        hub._build = build
        none, some = [], []
        for _ in range(args.rounds):
            none.append(await throughput(app, sim, args.seconds))
            async with Pages(url, cookie, args.pages):
                some.append(await throughput(app, sim, args.seconds))
        by_equity = {round(-4800 + 0.1 * (50000.0 + i), 6): t for i, t in sent.items()}
        lat = []
        for arrived, equity in pages.seen:
            t = by_equity.get(round(equity, 6))
            if t is not None:
                lat.append((arrived - t) * 1000)
        lat.sort()
        from_event = sorted(
            (at - handled[round(e, 6)]) * 1000 for at, e in pages.seen if round(e, 6) in handled
        )
        if not lat:
            raise SystemExit(f"no page message matched a paced price: {pages.seen[:5]}")

        tracemalloc.start()
        before, rss_before = tracemalloc.get_traced_memory()[0], rss()
        async with Pages(url, cookie, args.memory_pages):
            await ask(sim, "pace", args.rate, 3.0)  # pushes flowing to every page
            during, rss_during = tracemalloc.get_traced_memory()[0], rss()
        tracemalloc.stop()
        hub = app.hub
        pushes = hub.pushes if hub is not None else 0
        app.stop()
        await bot
    sim.send(("quit",))
    sim_proc.join(5)
    med_none = statistics.median(x for x, _ in none)
    med_some = statistics.median(x for x, _ in some)

    def p(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))]

    print(
        f"engine throughput, events per CPU-second of the bot, {args.rounds} rounds of "
        f"{args.seconds:g}s of flooded prices:"
    )
    for label, runs, med in (("0 pages", none, med_none), (f"{args.pages} pages", some, med_some)):
        each = ", ".join(f"{x:,.0f} ({y:,.0f}/s wall)" for x, y in runs)
        print(f"  {label}: {each}  median {med:,.0f}")
    print(f"  ratio {med_some / med_none:.3f} ({(1 - med_some / med_none) * 100:+.1f}% lower)")
    print(
        f"(context) simulator send -> page parsed, {len(sent)} prices at {args.rate:g}/s, "
        f"{len(lat)} samples: p50 {p(0.5):.1f} ms  p99 {p(0.99):.1f} ms  max {lat[-1]:.1f} ms"
    )
    ev = from_event
    print(
        f"push latency, event handled by the engine -> page parsed, {args.pages} pages, "
        f"{len(ev)} samples: p50 {ev[len(ev) // 2]:.1f} ms  "
        f"p99 {ev[min(len(ev) - 1, int(0.99 * len(ev)))]:.1f} ms  max {ev[-1]:.1f} ms"
    )
    worst = sorted(lags)[-max(1, len(lags) // 100) :]  # the worst 1 %
    print(
        f"  the bot's event loop meanwhile: lag p99 {worst[0][0]:.1f} ms, max "
        f"{worst[-1][0]:.1f} ms; in the worst 1 % of 10 ms sleeps it used "
        f"{statistics.fmean(c for _, c in worst):.1f} ms of CPU on average"
    )
    tb = sorted(x * 1000 for x in to_build.values())
    print(
        f"  of which event handled -> first state built with it: p50 {tb[len(tb) // 2]:.1f} ms"
        f"  p99 {tb[min(len(tb) - 1, int(0.99 * len(tb)))]:.1f} ms  ({len(tb)} values)"
    )
    wire = sorted(x * 1000 for x in pages.built)
    print(
        f"  of which state built -> page parsed: p50 {wire[len(wire) // 2]:.1f} ms  "
        f"p99 {wire[min(len(wire) - 1, int(0.99 * len(wire)))]:.1f} ms"
    )
    upd = sorted(c for c, _, full in costs if not full)
    sizes = sorted(n for _, n, full in costs if not full)
    print(
        f"  one state build (CPU of the bot, an update): p50 {upd[len(upd) // 2]:.2f} ms  "
        f"p99 {upd[min(len(upd) - 1, int(0.99 * len(upd)))]:.2f} ms; "
        f"{sizes[len(sizes) // 2]:,} bytes; {len(upd)} builds"
    )
    per = (during - before) / args.memory_pages / 1024
    print(
        f"memory: Python heap +{(during - before) / 2**20:.2f} MB with {args.memory_pages} pages "
        f"pushed to: {per:.0f} KB per page (RSS {rss_before / 2**20:.1f} -> "
        f"{rss_during / 2**20:.1f} MB); {pushes} pushes in the run"
    )


if __name__ == "__main__":
    asyncio.run(main())
