"""What the feed tracks per connection and per subscription, and the actions it asks for."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from alertbot.source.gaps import GapDetector
from alertbot.source.subscriptions import Subscription

WANTED, PENDING, ACTIVE, WAITING, REJECTED = "wanted", "pending", "active", "waiting", "rejected"


class Action(NamedTuple):
    """Something the I/O layer must do: subscribe, reconnect (`resync` also reconciles), move."""

    kind: str  # "subscribe" | "reconnect" | "resync" | "move" | "slow_down" | "reconcile"
    conn: int
    sub: Subscription | None = None
    reason: str = ""


@dataclass
class SubState:
    """One subscription on one connection."""

    sub: Subscription
    status: str = WANTED
    failures: int = 0
    retry_at: float = 0.0
    messages: int = 0  # snapshots and updates received, for metrics
    update: Any = None  # the normalizer's handler for this channel (hot path), set on first use
    lapsed_since: float | None = None  # unwatched on a live socket (refused, waiting, moved)


@dataclass
class ConnState:
    """What the feed knows about one connection (an index, stable across reconnects)."""

    index: int
    gaps: GapDetector
    subs: dict[str, SubState] = field(default_factory=dict)
    pairs: dict[tuple[Any, Any], SubState] = field(default_factory=dict)  # (channel, id) as sent
    up: bool = False
    connection_id: str = ""
    connected_at: float = 0.0
    last_message_at: float = 0.0
    lost_at: float | None = None  # set while down after having been up
    down_since: float = 0.0  # set while down, from start too (drives the polling fallback)
    attempts: int = 0  # failed connection attempts since the loss
    stale: bool = False
    last_code: int | None = None


def index_sub(state: ConnState, sub: SubState) -> SubState:
    """File a subscription under its key and under every (channel, id) the server may echo."""
    spec = sub.sub
    state.subs[spec.key] = sub
    state.pairs[(spec.channel, spec.id)] = sub
    if spec.id is None:  # block height messages echo the channel name as their id
        state.pairs[(spec.channel, spec.channel)] = sub
    return sub
