"""The event vocabulary rules are written against; docs/events.md documents every field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Every kind the source emits. Rules name these in `on:` (globs such as `order.*` allowed).
ORDER_TRANSITIONS = (
    "opened",
    "partially_filled",
    "filled",
    "canceled",
    "triggered",
    "best_effort_canceled",
)
DATA_KINDS = (
    "account",
    *(f"order.{t}" for t in ORDER_TRANSITIONS),
    "fill",
    "position.opened",
    "position.changed",
    "position.closed",
    "transfer",
    "market",
    "trade",
    "orderbook",
    "candle",
    "block",
)
TRANSPORT_KINDS = (
    "connection.connected",
    "connection.lost",
    "connection.reconnect",
    "connection.gap",
    "feed.stale",
    "source.polling",
    "subscription.error",
)
KINDS = DATA_KINDS + TRANSPORT_KINDS

# Labels that identify "the same thing" for a kind: the default `group_by` of a rule.
# Looked up by the kind itself first, then by its family (text before the first dot).
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "account": ("address", "subaccount"),
    "order": ("address", "subaccount", "order_id"),
    "fill": ("address", "subaccount", "id"),
    "position": ("address", "subaccount", "ticker"),
    "transfer": ("address", "subaccount", "id"),
    "market": ("ticker",),
    "trade": ("ticker", "id"),
    "orderbook": ("ticker",),
    "candle": ("ticker", "resolution"),
    "block": (),
    "connection": ("conn",),
    "feed": ("conn",),
    "source": (),
    "subscription": ("channel", "id"),
}


def natural_key(kind: str) -> tuple[str, ...]:
    """Field names that identify the subject of an event of this kind."""
    found = NATURAL_KEYS.get(kind)
    if found is None:
        found = NATURAL_KEYS.get(kind.partition(".")[0], ())
    return found


@dataclass(slots=True)
class Event:
    """One normalized happening: what rules match. Treat as immutable once emitted.

    `at` is the time the source observed it (unix seconds; the recording's clock in replay).
    `data` holds the kind's fields; numbers are int/float, never numeric strings.
    `conn` is the Indexer connection it came from (-1 for REST or the source itself), which
    lets a dead feed inhibit the alerts computed from it.
    """

    kind: str
    at: float
    data: dict[str, Any]
    conn: int = -1

    def to_json_dict(self) -> dict[str, Any]:
        """The `tail --json` shape: kind, ISO-8601 UTC time, then the fields at top level."""
        out: dict[str, Any] = {"kind": self.kind, "at": iso_utc(self.at)}
        out.update(self.data)
        return out


def iso_utc(ts: float) -> str:
    """ISO-8601 UTC with milliseconds and a Z suffix, as the Indexer writes times."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
