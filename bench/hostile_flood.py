"""A hostile server against a real `alertbot run`: RSS and log volume stay bounded (issue 10).

Three floods, one after the other, each `--seconds` long at `--rate` frames a second, on the
bundled simulator's socket: frames with a unique 10 KB `type` each (the issue's repro), markets
invented by the thousand, and subscriptions the server starts on its own. RSS is sampled from
/proc every second; the log is the bot's whole output.

    .venv/bin/python bench/hostile_flood.py [--seconds 60] [--rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import socket
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alertbot.sim import SimSettings, Simulator, load_scenario
from bench.soak.bot import spawn, terminate, write_rules
from bench.soak.leak import measure
from bench.soak.runner import wait_for
from bench.soak.tally import watched

Frame = Callable[[int], str]
TRACKED = r'alertbot_tracked_entries\{map="([^"]+)"\} ([0-9.e+]+)'


def unique_type(i: int) -> str:
    return json.dumps({"type": f"{i:07d}" + "x" * 10_000})


def invented_markets(i: int) -> str:
    prices = {f"FAKE{i}-{j}-USD": {"oraclePrice": "1.5"} for j in range(50)}
    return json.dumps(
        {"type": "channel_data", "channel": "v4_markets", "contents": {"oraclePrices": prices}}
    )


def invented_subscriptions(i: int) -> str:
    return json.dumps(
        {
            "type": "subscribed",
            "channel": "v4_trades",
            "id": f"FAKE{i}-USD",
            "contents": {"trades": []},
        }
    )


FLOODS: dict[str, Frame] = {
    "unique 10 KB types": unique_type,
    "invented markets (50 per frame)": invented_markets,
    "invented subscriptions": invented_subscriptions,
}


async def flood(sim: Simulator, pid: int, frame: Frame, seconds: float, rate: float) -> float:
    """Send frames at `rate` for `seconds`; the peak RSS (MB) seen meanwhile."""
    peak = 0.0
    started = time.monotonic()
    counter = itertools.count()
    next_sample = started
    while (now := time.monotonic()) - started < seconds:
        due = int((now - started) * rate)
        while (i := next(counter)) < due:
            sim.send_raw(frame(i))
        counter = itertools.count(due)
        if now >= next_sample:
            peak = max(peak, measure(pid)[0])
            next_sample = now + 1.0
        await asyncio.sleep(0.01)
    return max(peak, measure(pid)[0])


def tracked(port: int) -> dict[str, float]:
    """alertbot_tracked_entries by map, and the skipped-frame count, from the bot's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    found = {m[1]: float(m[2]) for m in re.finditer(TRACKED, text)}
    skipped = re.search(r"^alertbot_skipped_frames_total ([0-9.e+]+)", text, re.M)
    found["skipped_frames"] = float(skipped.group(1)) if skipped else 0.0
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def main(seconds: float, rate: float) -> None:
    settings = SimSettings(block_interval=1.0)
    async with Simulator(load_scenario("demo"), settings) as sim:
        with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
            log = Path(tmp) / "bot.log"
            port = _free_port()
            path = write_rules(
                Path(tmp) / "rules.yaml", sim, {"console": "{type: console}"}, http="true"
            )
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace('"127.0.0.1:0"', f'"127.0.0.1:{port}"'), "utf-8")
            proc = await spawn(path, log)
            try:
                await wait_for(lambda: watched(sim), 30, "the subscription")
                rss0 = measure(proc.pid)[0]
                print(f"RSS at start {rss0:.1f} MB ({seconds:.0f} s per flood, {rate:.0f}/s)")
                for name, frame in FLOODS.items():
                    before_log = log.stat().st_size
                    peak = await flood(sim, proc.pid, frame, seconds, rate)
                    after = measure(proc.pid)[0]
                    grew = log.stat().st_size - before_log
                    print(
                        f"{name:34} {int(seconds * rate):>6} frames: RSS peak {peak:6.1f} MB, "
                        f"after {after:6.1f} MB, log +{grew / 1024:6.1f} KB"
                    )
                print("tracked entries (/metrics):", tracked(port))
            finally:
                await terminate(proc)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.rate))
