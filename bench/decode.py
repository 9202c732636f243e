"""Decoding a frame: orjson + dict access (what the feed does) beside msgspec, before switching.

On the capture-derived frames of `capture_stream` (issue 11's mix), each decoder turns the bytes
into the values the feed and normalizer read: the envelope (type, channel, id, message_id) and,
per channel, the updated fields (book levels, oracle prices, block height, account lists).
Medians of `--runs` passes over the same frames, CPU time, one core.

    .venv/bin/python bench/decode.py [--frames 40000] [--runs 7]

msgspec is not a dependency: install it into the venv to run this (`pip install msgspec`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from capture_stream import stream

try:
    import msgspec
except ImportError:  # pragma: no cover - a bench-only comparison
    raise SystemExit("bench/decode.py compares against msgspec: pip install msgspec") from None


def touch(msg: dict[str, Any]) -> int:
    """Read what the feed and normalizer read from a dict-decoded frame."""
    kind, channel, _id, _mid = msg["type"], msg["channel"], msg.get("id"), msg["message_id"]
    contents = msg["contents"]
    n = 0
    if channel == "v4_orderbook":
        for side in ("bids", "asks"):
            for price, size in contents.get(side, ()):
                n += len(price) + len(size)
    elif channel == "v4_markets":
        for ticker, entry in (contents.get("oraclePrices") or {}).items():
            n += len(ticker) + len(entry["oraclePrice"])
    elif channel == "v4_block_height":
        n += len(contents["blockHeight"])
    else:
        for key in ("orders", "fills", "perpetualPositions", "transfers"):
            n += len(contents.get(key) or ())
    return n + len(kind)


class Oracle(msgspec.Struct):
    oraclePrice: str


class Envelope(msgspec.Struct):
    type: str
    channel: str
    message_id: int
    contents: msgspec.Raw
    id: str | None = None


class Book(msgspec.Struct):
    bids: list[tuple[str, str]] = []
    asks: list[tuple[str, str]] = []


class Markets(msgspec.Struct):
    oraclePrices: dict[str, Oracle] | None = None
    trading: dict[str, Any] | None = None


class Block(msgspec.Struct):
    blockHeight: str
    time: str


ENVELOPE = msgspec.json.Decoder(Envelope)
TYPED = {
    "v4_orderbook": msgspec.json.Decoder(Book),
    "v4_markets": msgspec.json.Decoder(Markets),
    "v4_block_height": msgspec.json.Decoder(Block),
}
UNTYPED = msgspec.json.Decoder()


def typed(raw: bytes) -> int:
    """Typed envelope, then typed contents per channel (dicts for accounts)."""
    env = ENVELOPE.decode(raw)
    decoder = TYPED.get(env.channel)
    if decoder is None:
        return touch(
            {"type": env.type, "channel": env.channel, "id": env.id, "message_id": env.message_id,
             "contents": UNTYPED.decode(env.contents)}
        )  # fmt: skip
    contents = decoder.decode(env.contents)
    n = 0
    if isinstance(contents, Book):
        for price, size in contents.bids:
            n += len(price) + len(size)
        for price, size in contents.asks:
            n += len(price) + len(size)
    elif isinstance(contents, Markets):
        for ticker, entry in (contents.oraclePrices or {}).items():
            n += len(ticker) + len(entry.oraclePrice)
    elif isinstance(contents, Block):
        n += len(contents.blockHeight)
    return n + len(env.type)


DECODERS: dict[str, Callable[[bytes], int]] = {
    "orjson.loads + dict access (today)": lambda raw: touch(orjson.loads(raw)),
    "msgspec.json.decode (dicts)": lambda raw: touch(UNTYPED.decode(raw)),
    "msgspec typed Structs": typed,
}


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    _, updates = stream(args.frames)
    frames = [orjson.dumps(m) for m in updates]
    checks = {name: sum(map(fn, frames)) for name, fn in DECODERS.items()}
    assert len(set(checks.values())) == 1, checks  # every decoder read the same values
    times: dict[str, list[float]] = {name: [] for name in DECODERS}
    for _ in range(args.runs):
        for name, fn in DECODERS.items():
            start = time.process_time()
            for raw in frames:
                fn(raw)
            times[name].append(time.process_time() - start)
    base = statistics.median(times["orjson.loads + dict access (today)"])
    print(f"{len(frames)} capture-derived frames, median of {args.runs} interleaved runs (CPU)")
    for name, values in times.items():
        t = statistics.median(values)
        print(f"{name:<38} {t / len(frames) * 1e6:6.2f} us/frame  {t / base:5.2f}x")


if __name__ == "__main__":
    main()
