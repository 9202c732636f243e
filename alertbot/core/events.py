"""The event vocabulary: every kind the source emits and what identifies its subject.

docs/events.md documents every field; `alertbot.core.model.Event` is the event itself.
"""

from __future__ import annotations

# Every kind the source emits. Rules name these in `on:` (globs such as `order.*` allowed).
ORDER_TRANSITIONS = (
    "opened",
    "partially_filled",
    "filled",
    "canceled",
    "triggered",
    "best_effort_canceled",
)
STOP_STATES = ("missing", "unsafe", "ok")
# Kinds computed from margin math on every price move: the source skips them (and their cost)
# when no rule is on any of them.
RISK_KINDS = ("risk", "risk.parent", *(f"stop.{s}" for s in STOP_STATES), "funding")
DATA_KINDS = (
    "account",
    *(f"order.{t}" for t in ORDER_TRANSITIONS),
    "fill",
    "position.opened",
    "position.changed",
    "position.closed",
    "risk",
    "risk.parent",
    *(f"stop.{s}" for s in STOP_STATES),
    "funding",
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
    "source.catchup",
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
    "risk": ("address", "subaccount", "ticker"),
    "risk.parent": ("address", "parent_subaccount"),
    "stop": ("address", "subaccount", "ticker"),
    "funding": ("address", "subaccount", "ticker"),
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
