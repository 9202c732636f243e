"""Delivery benchmark: (a) a 10,000-notification burst, (b) submit-to-POST latency at 100/s.

Run: .venv/bin/python bench/delivery.py [--burst 10000] [--rate 100] [--seconds 10]
(a) submits the burst in one go to a webhook limited to 1 message/s with max_batch 100; the
    rate waits run on a virtual clock (the HTTP is real), so it reports memory (tracemalloc peak,
    RSS growth), the number of messages the burst became, and that every notification arrived.
(b) submits at a steady rate to a local webhook (real clock, real loopback HTTP, real SQLite in
    a temporary state dir) and reports the time from `submit` to the server reading the POST,
    with the outbox at synchronous=NORMAL (the default) and FULL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alertbot.core.model import Notification
from alertbot.notify.base import Notifier
from alertbot.notify.base import SendResult as Result  # the real contract
from alertbot.notify.config import NotifierConfig, RateConfig
from alertbot.notify.delivery import Delivery
from alertbot.notify.delivery_config import DeliveryConfig
from alertbot.state import open_state


class Server:
    """A webhook on 127.0.0.1 that records (fingerprints, arrival time) of every POST."""

    def __init__(self) -> None:
        self.log: list[tuple[list[str], float]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real webhook services

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.log.append((body["fingerprints"], time.perf_counter()))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Webhook(Notifier):
    """A real Notifier posting each batch as one JSON message."""

    type = "webhook"

    def __init__(self, url: str, max_batch: int, rate: tuple[int, float] | None) -> None:
        limit = RateConfig(messages=rate[0], per=rate[1]) if rate else None
        super().__init__("hook", NotifierConfig(max_batch=max_batch, rate=limit))
        self.url = url
        self.client = httpx.AsyncClient(timeout=10.0)

    async def send(self, batch: Sequence[Notification]) -> Result:
        body = {"fingerprints": [n.fingerprint for n in batch], "titles": [n.title for n in batch]}
        resp = await self.client.post(self.url, json=body)
        return Result(resp.is_success, detail=f"HTTP {resp.status_code}")

    def describe(self) -> str:
        return "webhook hook"


class VirtualClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds
        await asyncio.sleep(0)


def make_note(i: int) -> Notification:
    return Notification(
        rule="fill-seen", status="firing", severity="info", labels={"fill": str(i)},
        title=f"Filled BUY 0.01 BTC-USD #{i}", message=f"fill {i} at 65,000 USD", at=float(i),
        notify=("hook",), fingerprint=f"fp{i}", starts_at=float(i), ends_at=None,
        event={"kind": "fill", "id": f"fill-{i}", "ticker": "BTC-USD", "size": "0.01"},
    )  # fmt: skip


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def burst(count: int) -> dict[str, Any]:
    server = Server()
    clock = VirtualClock()
    with tempfile.TemporaryDirectory() as tmp:
        db = open_state(tmp)
        hook = Webhook(server.url, max_batch=100, rate=(1, 1.0))
        delivery = Delivery(db, {"hook": hook}, DeliveryConfig(), clock=clock,
                            sleep=clock.sleep)  # fmt: skip
        rss_before = rss_mb()
        tracemalloc.start()
        started = time.perf_counter()
        for i in range(count):
            delivery.submit(make_note(i))
        submitted = time.perf_counter() - started
        await delivery.start()
        await delivery.stop(timeout=count * 2.0)  # virtual seconds: enough for every token
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        elapsed = time.perf_counter() - started
        await hook.client.aclose()
        db.close()
    server.close()
    received = [fp for fps, _ in server.log for fp in fps]
    assert sorted(received) == sorted(f"fp{i}" for i in range(count)), "lost or duplicated"
    return {"submit_per_s": count / submitted, "messages": len(server.log), "delivered":
            len(received), "peak_mb": peak / 2**20, "rss_growth_mb": rss_mb() - rss_before,
            "wall_s": elapsed, "virtual_s": clock.t}  # fmt: skip


async def latency(rate: float, seconds: float, sync: str) -> dict[str, Any]:
    server = Server()
    count = int(rate * seconds)
    sent_at: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = open_state(tmp, synchronous=sync)  # type: ignore[arg-type]
        hook = Webhook(server.url, max_batch=10, rate=None)
        delivery = Delivery(db, {"hook": hook}, DeliveryConfig())
        await delivery.start()
        start = time.perf_counter()
        for i in range(count):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            sent_at[f"fp{i}"] = time.perf_counter()
            delivery.submit(make_note(i))
        await delivery.stop(timeout=10)
        await hook.client.aclose()
        db.close()
    server.close()
    lat = sorted((at - sent_at[fp]) * 1000 for fps, at in server.log for fp in fps)
    assert len(lat) == count, f"{len(lat)} of {count} arrived"
    q = statistics.quantiles(lat, n=100)
    return {"count": count, "messages": len(server.log), "p50": q[49], "p99": q[98],
            "max": lat[-1]}  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    b = await burst(args.burst)
    print(f"(a) burst of {args.burst:,} notifications to a webhook at 1 msg/s, max_batch 100")
    print(f"    {'submit rate':<34}{b['submit_per_s']:>12,.0f} /s")
    print(f"    {'messages sent (grouped)':<34}{b['messages']:>12,}")
    print(f"    {'notifications delivered':<34}{b['delivered']:>12,}  (each exactly once)")
    print(f"    {'tracemalloc peak':<34}{b['peak_mb']:>12.2f} MB")
    print(f"    {'max RSS growth':<34}{b['rss_growth_mb']:>12.2f} MB")
    print(f"    {'wall time (virtual rate waits)':<34}{b['wall_s']:>12.2f} s  "
          f"({b['virtual_s']:.0f} s of rate-limit time)")  # fmt: skip
    print()
    print(f"(b) submit -> HTTP POST latency at {args.rate:.0f} notifications/s, "
          f"{args.seconds:.0f} s, loopback webhook")  # fmt: skip
    print(f"    {'synchronous':<12}{'count':>8}{'messages':>10}{'p50 ms':>10}{'p99 ms':>10}"
          f"{'max ms':>10}")  # fmt: skip
    for sync in ("normal", "full"):
        r = await latency(args.rate, args.seconds, sync)
        print(f"    {sync:<12}{r['count']:>8}{r['messages']:>10}{r['p50']:>10.2f}"
              f"{r['p99']:>10.2f}{r['max']:>10.2f}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
