"""An Indexer stream built from the real captures in ../shared/dydx-captures (never copied here).

Frames in the proportions of busy live traffic (issue 11): 25 % subaccount updates, 35 % markets,
35 % order book, 5 % block height. Every frame's body is a real captured body: order books take
the captured single-level updates, markets the captured oracle-price and trading diffs, accounts
the captured order, fill and transfer updates; only prices are walked (oracle prices by up to
0.2 % a step), ids renumbered (so fills are distinct) and subscriptions spread over tickers and
subaccounts. `events()` runs the frames through a fresh Normalizer: capture-derived events.
"""

from __future__ import annotations

import copy
import json
import os
import random
from pathlib import Path
from typing import Any

from alertbot.core.model import Event
from alertbot.source.normalize import Normalizer

CAPTURES = Path(
    os.environ.get(
        "ALERTBOT_CAPTURES", Path(__file__).resolve().parents[2] / "shared" / "dydx-captures"
    )
)
SHARES = {"v4_subaccounts": 25, "v4_markets": 35, "v4_orderbook": 35, "v4_block_height": 5}
ADDRESSES = (
    "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art",
    "dydx1kzsvkf2ghjqlysuffdkhcdctknl4rsvcx5hkm5",
)
ACCOUNT_UPDATES = (  # captured v4_subaccounts channel_data bodies
    "nautilus__v4_accounts_channel_data_order.json",
    "nautilus__v4_accounts_channel_data_order_opened.json",
    "nautilus__v4_accounts_channel_data_order_canceled.json",
    "nautilus__v4_accounts_channel_data_order_best_effort_canceled.json",
    "nautilus__v4_accounts_fills.json",
    "nautilus__v4_accounts_channel_data_affiliate_rev_share.json",
    "nautilus__v4_accounts_channel_data_transfers.json",
)
MARKET_UPDATES = (
    "nautilus__v4_markets_trading_data.json",
    "nautilus__v4_markets_channel_data_v8.json",
)


def load(name: str) -> Any:
    """One capture file (a clear error when the captures are not there)."""
    path = CAPTURES / name
    if not path.is_file():
        raise SystemExit(f"capture {path} not found: set ALERTBOT_CAPTURES to the captures folder")
    return json.loads(path.read_text())


def subaccount_ids(count: int) -> list[str]:
    """`count` subscription ids "address/N" over the captured addresses."""
    return [f"{ADDRESSES[i % len(ADDRESSES)]}/{i // len(ADDRESSES)}" for i in range(count)]


def markets_snapshot() -> dict[str, Any]:
    """The captured v4_markets snapshot (98 testnet markets)."""
    return dict(load("nautilus__v4_markets_subscribed.json"))


def tickers(count: int) -> list[str]:
    """The first `count` active tickers of the captured markets."""
    markets = markets_snapshot()["contents"]["markets"]
    active = [t for t, m in markets.items() if m.get("status") == "ACTIVE" and m.get("oraclePrice")]
    return sorted(active)[:count]


class Builder:
    """Frames (dicts as the server sends them) with one message_id counter."""

    def __init__(self, n_tickers: int, n_subaccounts: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.tickers = tickers(n_tickers)
        self.subs = subaccount_ids(n_subaccounts)
        self.msg_id = 0
        self.serial = 0
        self.height = 26543049
        snap = markets_snapshot()["contents"]["markets"]
        self.prices = {t: float(snap[t]["oraclePrice"]) for t in self.tickers}
        self.market_ids = {t: snap[t].get("clobPairId", "0") for t in self.tickers}
        self.book_levels = list(load("nautilus__v4_orderbook_batched_data.json")["contents"])
        self.accounts = [load(name) for name in ACCOUNT_UPDATES]
        self.market_diffs = [load(name) for name in MARKET_UPDATES]

    def frame(self, msg: dict[str, Any]) -> dict[str, Any]:
        self.msg_id += 1
        return {**msg, "message_id": self.msg_id}

    def snapshots(self) -> list[dict[str, Any]]:
        """What a client subscribed to every channel receives first."""
        out = [self.frame(markets_snapshot())]
        book = load("nautilus__v4_orderbook_snapshot.json")
        for ticker in self.tickers:
            out.append(self.frame({**book, "id": ticker}))
        account = load("nautilus__v4_accounts_balance.json")
        for sub in self.subs:
            address, _, number = sub.rpartition("/")
            body = copy.deepcopy(account)
            body["contents"]["subaccount"].update(address=address, subaccountNumber=int(number))
            out.append(self.frame({**body, "id": sub}))
        block = load("nautilus__v4_block_height_subscribed.json")
        out.append(self.frame(block))
        return out

    def update(self) -> dict[str, Any]:
        """One data frame, its channel drawn by SHARES."""
        channel = self.rng.choices(list(SHARES), weights=list(SHARES.values()))[0]
        if channel == "v4_orderbook":
            item = self.rng.choice(self.book_levels)
            return self.frame(_data("v4_orderbook", self.rng.choice(self.tickers), item))
        if channel == "v4_markets":
            return self.frame(_data("v4_markets", None, self.market_contents()))
        if channel == "v4_block_height":
            self.height += 1
            body = {"blockHeight": str(self.height), "time": "2024-12-02T18:45:33.548Z"}
            return self.frame(_data("v4_block_height", None, body))
        return self.frame(_data("v4_subaccounts", self.rng.choice(self.subs), self.account()))

    def market_contents(self) -> dict[str, Any]:
        """Mostly oracle prices for one to three tickers (walked), sometimes a trading diff."""
        if self.rng.random() < 0.1:
            return copy.deepcopy(self.rng.choice(self.market_diffs)["contents"])
        moved = {}
        for ticker in self.rng.sample(
            self.tickers, k=min(len(self.tickers), self.rng.randint(1, 3))
        ):
            self.prices[ticker] *= 1 + self.rng.uniform(-0.002, 0.002)
            moved[ticker] = {
                "oraclePrice": f"{self.prices[ticker]:.6g}",
                "effectiveAt": "2024-08-17T17:50:25.837Z",
                "effectiveAtHeight": str(self.height),
                "marketId": 0,
            }
        return {"oraclePrices": moved}

    def account(self) -> dict[str, Any]:
        """A captured account update with fresh ids (a new order, a new fill each time)."""
        body = copy.deepcopy(self.rng.choice(self.accounts)["contents"])
        self.serial += 1
        for key in ("orders", "fills"):
            for item in body.get(key, ()):
                item["id"] = f"{item['id'][:-8]}{self.serial:08d}"
                if "orderId" in item:
                    item["orderId"] = f"{item['orderId'][:-8]}{self.serial:08d}"
        transfers = body.get("transfers")
        if isinstance(transfers, dict):
            transfers["id"] = f"{transfers.get('id', 'transfer')}-{self.serial}"
        return body


def _data(channel: str, sub_id: str | None, contents: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "channel_data", "channel": channel, "contents": contents}
    if sub_id is not None:
        msg["id"] = sub_id
    msg["version"] = "1.0.0"
    return msg


def stream(
    frames: int, *, n_tickers: int = 30, n_subaccounts: int = 10, seed: int = 7
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Snapshots and `frames` data frames."""
    builder = Builder(n_tickers, n_subaccounts, seed)
    snapshots = builder.snapshots()
    updates = [builder.update() for _ in range(frames - 1)]
    builder.height += 1  # the last frame is a block: it always makes an event, ending a run
    body = {"blockHeight": str(builder.height), "time": "2024-12-02T18:45:33.548Z"}
    return snapshots, [*updates, builder.frame(_data("v4_block_height", None, body))]


def feed(normalizer: Normalizer, msg: dict[str, Any], now: float) -> list[Event]:
    """What the feed does with one frame: a snapshot or an update, to the normalizer."""
    channel, sub_id = msg["channel"], msg.get("id")
    if msg["type"] == "subscribed":
        return normalizer.snapshot(channel, sub_id, msg["contents"], now, 0)
    return normalizer.update(channel, sub_id, msg["contents"], now, 0, msg.get("subaccountNumber"))


def events(frames: int, **kwargs: Any) -> list[Event]:
    """Events normalized from the captured stream, 1 ms apart (risk off, as no rule reads it)."""
    snapshots, updates = stream(frames, **kwargs)
    problems: list[str] = []
    normalizer = Normalizer(lambda reason, raw: problems.append(reason), risk=False)
    out: list[Event] = []
    for i, msg in enumerate([*snapshots, *updates]):
        out.extend(feed(normalizer, msg, i / 1000))
    if problems:  # a stream the normalizer rejects would measure nothing real
        raise SystemExit(f"{len(problems)} problem(s) normalizing the stream: {problems[:3]}")
    return out


if __name__ == "__main__":
    from collections import Counter

    evs = events(20_000)
    print(len(evs), Counter(e.kind for e in evs).most_common())
