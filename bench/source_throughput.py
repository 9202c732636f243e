"""Source + normalizer throughput beside the raw `websockets` receive rate, in one run.

1. Record a large mixed stream from the bundled simulator (orderbook, trades, oracle prices,
   blocks, an account's orders and fills), as a client subscribed to everything sees it.
2. Serve that stream from a loopback server as fast as the socket allows, once to a bare
   `websockets` receive loop (the ceiling) and once to alertbot's IndexerSource (frames parsed,
   normalized into events and queued to a consumer); alternate rounds, report medians.

    .venv/bin/python bench/source_throughput.py [--frames 100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import random
import statistics
import time
from typing import Any

import orjson
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from alertbot.sim import SimSettings, Simulator, load_scenario
from alertbot.source.client import IndexerSource
from alertbot.source.config import SourceConfig

ACC = "dydx199tqg4wdlnu4qjlxchpd7seg454937hjrknju4/0"
MARKETS = ["BTC-USD", "ETH-USD"]
SUBS: list[dict[str, Any]] = [
    {"type": "subscribe", "channel": "v4_subaccounts", "id": ACC},
    {"type": "subscribe", "channel": "v4_markets"},
    *(
        {"type": "subscribe", "channel": f"v4_{ch}", "id": m}
        for m in MARKETS
        for ch in ("trades", "orderbook")
    ),
    {"type": "subscribe", "channel": "v4_block_height"},
]


def subscriptions(batched: bool) -> list[dict[str, Any]]:
    """What both clients send: batched like alertbot's default, or one message per update."""
    return [{**sub, "batched": True} if batched else sub for sub in SUBS]


async def capture(frames: int, batched: bool) -> tuple[list[bytes], list[bytes]]:
    """Snapshots and data frames a fully subscribed client receives from the simulator."""
    snapshots: list[bytes] = []
    data: list[bytes] = []
    rng = random.Random(7)
    settings = SimSettings(block_interval=0, batch_interval=0.05)
    async with (
        Simulator(load_scenario("basic"), settings) as sim,
        connect(sim.ws_url, max_size=None) as ws,
    ):
        await ws.recv()
        for sub in subscriptions(batched):
            await ws.send(orjson.dumps(sub).decode())
        while len(snapshots) < len(SUBS):
            snapshots.append(await ws.recv(decode=False))
        price = {"BTC-USD": 60000.0, "ETH-USD": 3000.0}
        while len(data) < frames:
            for _ in range(50):
                drive(sim, rng, price)
            while True:
                try:
                    data.append(await asyncio.wait_for(ws.recv(decode=False), 0.05))
                except TimeoutError:
                    break
    return snapshots, data[:frames]


def drive(sim: Simulator, rng: random.Random, price: dict[str, float]) -> None:
    """One step of a realistic mix: mostly prices and trades, some blocks, a few own orders."""
    roll = rng.random()
    ticker = rng.choice(MARKETS)
    if roll < 0.55:
        price[ticker] *= 1 + rng.uniform(-0.001, 0.001)
        sim.set_price(ticker, round(price[ticker], 1))
    elif roll < 0.85:
        order = sim.place_order(
            ACC, ticker, rng.choice(["BUY", "SELL"]), 0.01, round(price[ticker], 1)
        )
        sim.fill_order(order)
    else:
        sim.new_block()


def snapshot_key(msg: dict[str, Any]) -> str:
    """channel-id, with no id for the id-less channels (block height echoes its name)."""
    channel = msg["channel"]
    return channel if channel in ("v4_markets", "v4_block_height") else f"{channel}-{msg.get('id')}"


def renumber(snapshots: list[bytes], data: list[bytes]) -> tuple[dict[str, bytes], list[bytes]]:
    """Snapshots keyed by channel+id, and data frames with one consecutive message_id counter."""
    by_key: dict[str, bytes] = {}
    for raw in snapshots:
        msg = orjson.loads(raw)
        by_key[snapshot_key(msg)] = raw
    out = []
    for i, raw in enumerate(data, start=len(snapshots) + 1):
        msg = orjson.loads(raw)
        msg["message_id"] = i
        out.append(orjson.dumps(msg))
    return by_key, out


def wire(payload: bytes) -> bytes:
    """An unmasked server text frame, as it travels on the socket."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


class Blaster:
    """Answers subscribes with the recorded snapshots, then writes every data frame at once.

    The frames are pre-encoded and written to the socket in one go, so the sender is never the
    bottleneck and both clients are measured at their own receive ceiling.
    """

    def __init__(self, snapshots: dict[str, bytes], data: list[bytes]) -> None:
        self.snapshots = snapshots
        self.wire = b"".join(wire(frame) for frame in data)

    async def handler(self, ws: ServerConnection) -> None:
        await ws.send(b'{"type":"connected","connection_id":"bench","message_id":0}', text=True)
        answered = 0
        async for raw in ws:
            msg = orjson.loads(raw)
            key = snapshot_key(msg)
            answered += 1
            snap = orjson.loads(self.snapshots[key])
            snap["message_id"] = answered
            await ws.send(orjson.dumps(snap), text=True)
            if answered == len(self.snapshots):
                break
        ws.transport.write(self.wire)
        await ws.wait_closed()


def serve_forever(snapshots: dict[str, bytes], data: list[bytes], ports: Any) -> None:
    """The blaster in its own process (as the real server is), no compression (as socks)."""

    async def run() -> None:
        blaster = Blaster(snapshots, data)
        async with serve(
            blaster.handler, "127.0.0.1", 0, max_size=None, compression=None
        ) as server:
            ports.put(server.sockets[0].getsockname()[1])
            await asyncio.Future()

    asyncio.run(run())


async def raw_round(url: str, frames: int, batched: bool) -> float:
    """Frames/s of a bare websockets client that subscribes and only receives."""
    async with connect(url, max_size=64 * 1024 * 1024) as ws:
        await ws.recv(decode=False)
        for sub in subscriptions(batched):
            await ws.send(orjson.dumps(sub).decode())
        for _ in SUBS:
            await ws.recv(decode=False)
        start = time.perf_counter()
        for _ in range(frames):
            await ws.recv(decode=False)
        return frames / (time.perf_counter() - start)


async def source_round(url: str, frames: int, batched: bool) -> tuple[float, float]:
    """Frames/s and events/s through IndexerSource (feed, normalizer, queue, consumer)."""
    config = SourceConfig.model_validate(
        {
            "ws_url": url,
            "rest_url": "http://127.0.0.1:9/v4",
            "subaccounts": [ACC],
            "markets": MARKETS,
            "batched": batched,
            "market_channels": ["trades", "orderbook"],
            "reconcile_interval": 0,
            "polling": {"enabled": False},
        }
    )
    source = IndexerSource(config, env={})
    events = 0
    async with source:
        feed = source.feed
        start = None
        target = len(SUBS) + frames
        async for batch in source.batches():
            events += len(batch)
            seen = sum(feed.messages.values())
            if start is None and seen >= len(SUBS):
                start, events = time.perf_counter(), 0
            if seen >= target and not len(source.buffer):
                break
        elapsed = time.perf_counter() - (start or time.perf_counter())
    return frames / elapsed, events / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--unbatched", action="store_true", help="one frame per update")
    args = parser.parse_args()
    batched = not args.unbatched
    t0 = time.perf_counter()
    snapshots, data = await capture(args.frames, batched)
    by_key, frames = renumber(snapshots, data)
    kinds: dict[str, int] = {}
    updates = 0
    for raw in frames:
        msg = orjson.loads(raw)
        kinds[msg["channel"]] = kinds.get(msg["channel"], 0) + 1
        updates += len(msg["contents"]) if msg["type"] == "channel_batch_data" else 1
    size = sum(map(len, frames)) / len(frames)
    mode = "batched" if batched else "unbatched"
    print(
        f"captured {len(frames)} {mode} frames ({updates} updates) from the simulator in "
        f"{time.perf_counter() - t0:.1f}s, mean {size:.0f} bytes: "
        + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
    )
    ports: Any = multiprocessing.Queue()
    server = multiprocessing.Process(
        target=serve_forever, args=(by_key, frames, ports), daemon=True
    )
    server.start()
    url = f"ws://127.0.0.1:{ports.get(timeout=30)}/v4/ws"
    raw_rates: list[float] = []
    src_rates: list[float] = []
    ev_rates: list[float] = []
    try:
        for _ in range(args.rounds):
            gc.collect()  # neither client pays for the other's garbage (a full collection is ms)
            raw_rates.append(await raw_round(url, len(frames), batched))
            gc.collect()
            frame_rate, event_rate = await source_round(url, len(frames), batched)
            src_rates.append(frame_rate)
            ev_rates.append(event_rate)
    finally:
        server.terminate()
    ceiling, src, ev = (statistics.median(x) for x in (raw_rates, src_rates, ev_rates))
    print(f"{'rounds':<34}{args.rounds}")
    print(f"{'raw websockets receive (frames/s)':<34}{ceiling:>10,.0f}")
    print(f"{'alertbot source (frames/s)':<34}{src:>10,.0f}   {src / ceiling:.0%} of raw")
    print(f"{'alertbot source (updates/s)':<34}{src * updates / len(frames):>10,.0f}")
    print(f"{'alertbot source (events/s)':<34}{ev:>10,.0f}")


if __name__ == "__main__":
    asyncio.run(main())
