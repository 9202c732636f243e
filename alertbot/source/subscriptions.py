"""What to subscribe to, how it is spread over connections, and how fast subscribes may go."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import orjson

from alertbot.source.config import SourceConfig
from alertbot.source.protocol import CAPS

NO_ID_CHANNELS = frozenset({"v4_markets", "v4_block_height"})
ACCOUNT_CHANNELS = frozenset({"v4_subaccounts", "v4_parent_subaccounts"})


@dataclass(frozen=True, slots=True)
class Subscription:
    """One channel+id the source wants; `id` is None for v4_markets and v4_block_height."""

    channel: str
    id: str | None
    batched: bool = True

    @property
    def key(self) -> str:
        """How the server names it in error texts: `<channel>-<id>`."""
        return f"{self.channel}-{self.id}" if self.id is not None else self.channel

    def subscribe_message(self) -> bytes:
        """The JSON text frame; no `id` for id-less channels (an id would silence updates)."""
        msg: dict[str, object] = {"type": "subscribe", "channel": self.channel}
        if self.id is not None:
            msg["id"] = self.id
        if self.batched:
            msg["batched"] = True
        return orjson.dumps(msg)

    def unsubscribe_message(self) -> bytes:
        """The JSON text frame that stops it (another replica took the subaccount over)."""
        msg: dict[str, object] = {"type": "unsubscribe", "channel": self.channel}
        if self.id is not None:
            msg["id"] = self.id
        return orjson.dumps(msg)


def account_subscriptions(source: SourceConfig) -> list[Subscription]:
    """The subaccount and parent subaccount subscriptions of the config."""
    batched = source.batched
    subs = [Subscription("v4_subaccounts", ref.id, batched) for ref in source.subaccounts]
    return subs + [
        Subscription("v4_parent_subaccounts", ref.id, batched) for ref in source.parent_subaccounts
    ]


def key_of(channel: str, sub_id: str | None) -> str:
    """Subscription key for a server message (block height echoes its channel name as id)."""
    if channel in NO_ID_CHANNELS:
        return channel
    return f"{channel}-{sub_id}"


def wanted(source: SourceConfig, *, accounts: bool = True) -> list[Subscription]:
    """Every data subscription the config asks for (block height is added per connection).

    `accounts=False`: markets only (a cluster replica adds the subaccounts of its shards).
    """
    batched = source.batched
    subs = account_subscriptions(source) if accounts else []
    subs.append(Subscription("v4_markets", None, batched))  # oracle prices: equity, price rules
    for ticker in source.markets:
        subs += [Subscription(f"v4_{ch}", ticker, batched) for ch in source.market_channels]
        subs += [Subscription("v4_candles", f"{ticker}/{res}", batched) for res in source.candles]
    return subs


def shard(subs: list[Subscription], caps: dict[str, int] | None = None) -> list[list[Subscription]]:
    """Pack subscriptions into as few connections as the caps allow; each gets block height.

    Every connection subscribes to v4_block_height (cap 1 per connection), so each one has a
    heartbeat of data about once a second and the silence watchdog can tell dead from quiet.
    """
    caps = {**CAPS, **(caps or {})}
    shards: list[list[Subscription]] = []
    counts: list[dict[str, int]] = []
    for sub in subs:
        free = [i for i, c in enumerate(counts) if c.get(sub.channel, 0) < caps[sub.channel]]
        if free:
            index = free[0]
        else:
            shards.append([])
            counts.append({})
            index = len(shards) - 1
        shards[index].append(sub)
        counts[index][sub.channel] = counts[index].get(sub.channel, 0) + 1
    batched = subs[0].batched if subs else True
    for group in shards or [[]]:
        group.append(Subscription("v4_block_height", None, batched))
    return shards or [[Subscription("v4_block_height", None, batched)]]


@dataclass
class Pacer:
    """Spaces subscribe messages on one connection.

    Hard rule from the server: at most 2 subscribes for one channel+id per second (the third
    closes the socket with 1008). Soft rule: `rate` subscribes per second overall, so 256
    subaccounts go out in seconds without flooding the server's snapshot fetches.
    """

    rate: float
    window: float = 1.0
    per_key: int = 2
    margin: float = 0.05
    _next_free: float = 0.0
    _history: dict[str, deque[float]] = field(default_factory=dict)

    def reserve(self, key: str, now: float) -> float:
        """Reserve a send slot for `key`; returns the time at which it may be sent."""
        slot = max(now, self._next_free)
        self._next_free = slot + 1.0 / self.rate
        history = self._history.setdefault(key, deque(maxlen=self.per_key))
        at = slot
        if len(history) == self.per_key:
            at = max(at, history[0] + self.window + self.margin)
        history.append(at)
        return at

    def slow_down(self) -> None:
        """After a rate-limit close: halve the overall rate (not below 2/s)."""
        self.rate = max(2.0, self.rate / 2)

    def reset(self) -> None:
        """A new connection: the server's per-connection windows start afresh."""
        self._next_free = 0.0
        self._history.clear()
