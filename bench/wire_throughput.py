"""Issue 11's contenders in one interleaved run, on a stream built from the real captures.

The stream (`capture_stream`: 25 % subaccount updates, 35 % markets, 35 % order book, 5 % block
height, one update per frame) is pre-encoded and written by a loopback server in its own
process, pinned to the other core, so the sender is never the bottleneck. Rounds alternate:

1. a bare `websockets` receive (the ceiling);
2. the same receive + `orjson.loads`;
3. a naive client: `json.loads`, a dict of handlers per channel, float conversions;
4. alertbot's source alone (IndexerSource: feed, normalizer, hand-off to a consumer), told
   the kinds the 100 rules read, as `alertbot run` tells it (it builds no other events);
5. alertbot's source with the engine and the 100 rules of bench/rules-100.yaml;
6. the same with the rule index off (every rule sees every event of its kinds, as before).

    .venv/bin/python bench/wire_throughput.py [--frames 20000] [--rounds 3]

Frames/s and CPU seconds per frame (process time, client side) are reported as medians and as
ratios to the bare receive measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from capture_stream import stream

from alertbot.app import kinds_read
from alertbot.config_load import load_config
from alertbot.rules import Engine
from alertbot.source.client import IndexerSource
from alertbot.source.config import SourceConfig

RULES = Path(__file__).resolve().parent / "rules-100.yaml"
READ = kinds_read(load_config(str(RULES)).rules)  # the kinds the 100 rules read
TICKERS, SUBACCOUNTS = 30, 10


def wire(payload: bytes) -> bytes:
    """An unmasked server text frame, as it travels on the socket."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


def key_of(msg: dict[str, Any]) -> str:
    """channel, or channel-id: what a subscribe asks for and its snapshot answers."""
    channel = msg["channel"]
    return channel if channel in ("v4_markets", "v4_block_height") else f"{channel}-{msg['id']}"


def serve_forever(snapshots: list[dict[str, Any]], data: list[bytes], ports: Any) -> None:
    """Answer each subscribe with its captured snapshot, then write every data frame at once."""
    _pin(1)
    by_key = {key_of(s): s for s in snapshots}
    blob = b"".join(wire(frame) for frame in data)

    async def handler(ws: ServerConnection) -> None:
        await ws.send(b'{"type":"connected","connection_id":"bench","message_id":0}', text=True)
        answered = 0
        async for raw in ws:
            answered += 1
            snap = {**by_key[key_of(orjson.loads(raw))], "message_id": answered}
            await ws.send(orjson.dumps(snap), text=True)
            if answered == len(by_key):
                break
        ws.transport.write(blob)
        await ws.wait_closed()

    async def run() -> None:
        async with serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
            ports.put(server.sockets[0].getsockname()[1])
            await asyncio.Future()

    asyncio.run(run())


def _pin(core: int) -> None:
    """Server and client on different cores (when the machine has two)."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {core})


async def _subscribe(ws: Any, snapshots: list[dict[str, Any]]) -> None:
    await ws.recv(decode=False)
    for snap in snapshots:
        sub = {"type": "subscribe", "channel": snap["channel"]}
        if key_of(snap) != snap["channel"]:
            sub["id"] = snap["id"]
        await ws.send(orjson.dumps(sub).decode())
    for _ in snapshots:
        await ws.recv(decode=False)


Round = Callable[[str, list[dict[str, Any]], int], Awaitable[tuple[float, float]]]


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - start[0], time.process_time() - start[1]


async def bare(url: str, snapshots: list[dict[str, Any]], frames: int) -> tuple[float, float]:
    """Receive only."""
    async with connect(url, max_size=None, compression=None) as ws:
        await _subscribe(ws, snapshots)
        start = _clock()
        for _ in range(frames):
            await ws.recv(decode=False)
        return _since(start)


async def bare_orjson(
    url: str, snapshots: list[dict[str, Any]], frames: int
) -> tuple[float, float]:
    """Receive and parse."""
    async with connect(url, max_size=None, compression=None) as ws:
        await _subscribe(ws, snapshots)
        start = _clock()
        loads = orjson.loads
        for _ in range(frames):
            loads(await ws.recv(decode=False))
        return _since(start)


async def naive(url: str, snapshots: list[dict[str, Any]], frames: int) -> tuple[float, float]:
    """What a first client looks like: json.loads, a handler per channel, floats."""
    state: dict[str, Any] = {"prices": {}, "books": {}, "height": 0, "fills": 0}

    def markets(contents: dict[str, Any]) -> None:
        for ticker, price in (contents.get("oraclePrices") or {}).items():
            state["prices"][ticker] = float(price["oraclePrice"])

    def book(msg: dict[str, Any]) -> None:
        levels = state["books"].setdefault(msg["id"], {"bids": {}, "asks": {}})
        for side in ("bids", "asks"):
            for price, size in msg["contents"].get(side, ()):
                levels[side][float(price)] = float(size)

    def accounts(contents: dict[str, Any]) -> None:
        for fill in contents.get("fills", ()):
            state["fills"] += float(fill["size"]) * float(fill["price"]) > 0

    def block(contents: dict[str, Any]) -> None:
        state["height"] = int(contents["blockHeight"])

    handlers: dict[str, Callable[[dict[str, Any]], None]] = {
        "v4_markets": lambda m: markets(m["contents"]),
        "v4_orderbook": book,
        "v4_subaccounts": lambda m: accounts(m["contents"]),
        "v4_block_height": lambda m: block(m["contents"]),
    }
    async with connect(url, max_size=None, compression=None) as ws:
        await _subscribe(ws, snapshots)
        start = _clock()
        for _ in range(frames):
            msg = json.loads(await ws.recv())
            handlers[msg["channel"]](msg)
        return _since(start)


def _source(url: str, snapshots: list[dict[str, Any]]) -> IndexerSource:
    subs = [s["id"] for s in snapshots if s["channel"] == "v4_subaccounts"]
    tickers = [s["id"] for s in snapshots if s["channel"] == "v4_orderbook"]
    config = SourceConfig.model_validate(
        {
            "ws_url": url,
            "rest_url": "http://127.0.0.1:9/v4",
            "subaccounts": subs,
            "markets": tickers,
            "batched": False,
            "market_channels": ["orderbook"],
            "reconcile_interval": 0,
            "polling": {"enabled": False},
        }
    )
    source = IndexerSource(config, env={})
    source.normalizer.risk = False  # as `alertbot run` does when no rule reads risk kinds
    source.normalizer.wanted = READ  # and the kinds the rules read, as `alertbot run` does
    return source


async def _through(
    source: IndexerSource, snapshots: int, frames: int, engine: Engine | None
) -> tuple[float, float]:
    """Consume batches (and run the engine on each event) until every frame went through."""
    feed = source.feed
    ticks = 0
    start: tuple[float, float] | None = None
    total = snapshots + frames
    async for batch in source.batches():
        if start is None and sum(feed.messages.values()) >= snapshots:
            start = _clock()  # the data phase starts once every snapshot is in
        if engine is not None:
            process = engine.process
            for event in batch:
                process(event, event.at)
            ticks += len(batch)
            if ticks >= 1000:
                ticks = 0
                engine.tick(time.time())
        if sum(feed.messages.values()) >= total and not len(source.buffer):
            break
    assert start is not None
    return _since(start)


async def source_alone(
    url: str, snapshots: list[dict[str, Any]], frames: int
) -> tuple[float, float]:
    """IndexerSource to a consumer that only counts."""
    source = _source(url, snapshots)
    async with source:
        return await _through(source, len(snapshots), frames, None)


def engine_round(engine_factory: Callable[[], Engine]) -> Round:
    """IndexerSource feeding the engine, as `alertbot run` does (without the outbox)."""

    async def round_(url: str, snapshots: list[dict[str, Any]], frames: int) -> tuple[float, float]:
        source = _source(url, snapshots)
        async with source:
            return await _through(source, len(snapshots), frames, engine_factory())

    return round_


async def timed(
    fn: Round, url: str, snapshots: list[dict[str, Any]], frames: int
) -> tuple[float, float]:
    """Wall and CPU seconds of one round's data phase (after every snapshot)."""
    gc.collect()
    return await fn(url, snapshots, frames)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    snapshots, updates = stream(args.frames, n_tickers=TICKERS, n_subaccounts=SUBACCOUNTS)
    data = [orjson.dumps(m) for m in updates]
    config = load_config(str(RULES))
    ports: Any = multiprocessing.Queue()
    server = multiprocessing.Process(
        target=serve_forever, args=(snapshots, data, ports), daemon=True
    )
    server.start()
    _pin(0)
    url = f"ws://127.0.0.1:{ports.get(timeout=60)}/v4/ws"
    contenders: list[tuple[str, Round]] = [
        ("websockets receive", bare),
        ("websockets receive + orjson.loads", bare_orjson),
        ("naive client (json, handlers, floats)", naive),
        ("alertbot source", source_alone),
        ("alertbot source + engine, 100 rules", engine_round(lambda: Engine(config))),
        (
            "same, rule index off (the old engine)",
            engine_round(lambda: Engine(config, indexed=False)),
        ),
    ]
    walls: dict[str, list[float]] = {name: [] for name, _ in contenders}
    cpus: dict[str, list[float]] = {name: [] for name, _ in contenders}
    try:
        for _ in range(args.rounds):
            for name, fn in contenders:
                wall, cpu = await timed(fn, url, snapshots, args.frames)
                walls[name].append(wall)
                cpus[name].append(cpu)
    finally:
        server.terminate()
    size = sum(map(len, data)) / len(data)
    print(f"{args.frames} frames from the captures (mean {size:.0f} bytes), "
          f"{len(snapshots)} snapshots, {args.rounds} interleaved rounds, medians")  # fmt: skip
    base_wall = statistics.median(walls["websockets receive"])
    base_cpu = statistics.median(cpus["websockets receive"])
    print(f"{'contender':<40}{'frames/s':>10}{'x bare':>8}{'CPU us/frame':>14}{'x bare':>8}")
    for name, _ in contenders:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        rate = args.frames / wall
        print(f"{name:<40}{rate:>10,.0f}{base_wall / wall:>8.2f}"
              f"{cpu / args.frames * 1e6:>14.2f}{cpu / base_cpu:>8.2f}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
