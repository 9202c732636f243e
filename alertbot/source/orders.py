"""The per-order state machine: merges partial order messages and emits each transition once."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from alertbot.core.events import ORDER_TRANSITIONS
from alertbot.source.numbers import BadValue, flag, num, opt_height, opt_num, opt_text, text

FINAL = frozenset({"FILLED", "CANCELED"})
STATUSES = frozenset(
    {"OPEN", "FILLED", "CANCELED", "BEST_EFFORT_CANCELED", "UNTRIGGERED", "BEST_EFFORT_OPENED"}
)
_STATUS_KIND = {
    "FILLED": "filled",
    "CANCELED": "canceled",
    "BEST_EFFORT_CANCELED": "best_effort_canceled",
}
_TRIGGERED_TO = frozenset({"OPEN", "BEST_EFFORT_OPENED", "FILLED"})
KEEP_FINAL = 50_000  # final orders remembered so a later snapshot or REST body cannot re-alert
FINAL_KEYS = ("order_id", "status", "address", "subaccount", "ticker")  # all a final order keeps

# Indexer key -> (event field, parser). Remove messages carry only a few of these: merge.
_KEYS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "clientId": ("client_id", text),
    "ticker": ("ticker", text),
    "side": ("side", text),
    "type": ("type", text),
    "size": ("size", num),
    "price": ("price", num),
    "triggerPrice": ("trigger_price", opt_num),
    "totalFilled": ("total_filled", num),
    "timeInForce": ("time_in_force", text),
    "reduceOnly": ("reduce_only", flag),
    "postOnly": ("post_only", flag),
    "removalReason": ("removal_reason", opt_text),
    "updatedAt": ("updated_at", opt_text),
    "goodTilBlockTime": ("good_til_block_time", opt_text),
}
# Conditional orders that protect a position: stops (and trailing stops) and take-profits.
STOP_TYPES = frozenset({"STOP_LIMIT", "STOP_MARKET", "TRAILING_STOP"})
TAKE_PROFIT_TYPES = frozenset({"TAKE_PROFIT", "TAKE_PROFIT_MARKET"})
PROTECTIVE = STOP_TYPES | TAKE_PROFIT_TYPES
MarketKey = tuple[str, int, str]  # (address, subaccount, ticker)


def plan(prev: str | None, prev_filled: float, status: str, filled: float) -> list[str]:
    """Transitions implied by moving from `prev` (None: never seen) to `status`.

    An order first seen in a final or best-effort-canceled state yields only that transition:
    the opening happened while we were not looking and is not news any more.
    """
    if prev in FINAL:
        return []
    out: list[str] = []
    if prev is None:
        if status in _STATUS_KIND:
            return [_STATUS_KIND[status]]
        out.append("opened")
    elif prev == "UNTRIGGERED" and status in _TRIGGERED_TO:
        out.append("triggered")
    if filled > prev_filled and status != "FILLED":
        out.append("partially_filled")
    kind = _STATUS_KIND.get(status)
    if kind is not None:
        out.append(kind)
    return out


class Order:
    """One order's merged fields (the event fields) and the transitions already emitted."""

    __slots__ = ("emitted", "fields")

    def __init__(self, fields: dict[str, Any], emitted: frozenset[str] = frozenset()) -> None:
        self.fields = fields
        self.emitted = emitted  # immutable: the empty one is shared by every order without any


def _blank(order_id: str, address: str, subaccount: int) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "client_id": None,
        "ticker": None,
        "side": None,
        "type": None,
        "size": None,
        "price": None,
        "trigger_price": None,
        "total_filled": 0.0,
        "remaining": None,
        "status": None,
        "previous_status": None,
        "time_in_force": None,
        "reduce_only": None,
        "post_only": None,
        "removal_reason": None,
        "updated_at": None,
        "good_til_block_time": None,
        "address": address,
        "subaccount": subaccount,
        "catchup": False,
    }


# `_KEYS` grouped by parser, so the hot path asks for the 14 keys it reads (an order item has
# about 22) and checks strings and flags inline, with the same errors as the parsers
_ABSENT = object()
_TEXTS = tuple((k, f) for k, (f, p) in _KEYS.items() if p is text)
_OPT_TEXTS = tuple((k, f) for k, (f, p) in _KEYS.items() if p is opt_text)
_FLAGS = tuple((k, f) for k, (f, p) in _KEYS.items() if p is flag)
_OTHERS = tuple((k, f, p) for k, (f, p) in _KEYS.items() if p not in (text, opt_text, flag))


def parse(item: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """Id, status and the present fields, all parsed before any state changes."""
    order_id = text(item["id"])
    status = text(item["status"])
    if status not in STATUSES:
        raise BadValue("unknown order status")
    fields: dict[str, Any] = {}
    get, absent = item.get, _ABSENT
    for key, name in _TEXTS:
        value = get(key, absent)
        if value is not absent:
            fields[name] = value if value.__class__ is str else text(value)
    for key, name in _OPT_TEXTS:
        value = get(key, absent)
        if value is not absent:
            fields[name] = value if value is None or value.__class__ is str else text(value)
    for key, name in _FLAGS:
        value = get(key, absent)
        if value is not absent:
            fields[name] = value if value is True or value is False else flag(value)
    for key, name, parser in _OTHERS:
        value = get(key, absent)
        if value is not absent:
            fields[name] = parser(value)
    return order_id, status, fields


def _item_height(item: dict[str, Any]) -> int | None:
    return opt_height(item.get("updatedAtHeight") or item.get("createdAtHeight"))


class Orders:
    """Every order we know, by Indexer order id (a UUID, unique across subaccounts)."""

    def __init__(self, keep_final: int = KEEP_FINAL) -> None:
        self.by_id: dict[str, Order] = {}
        self._finals: deque[str] = deque()
        self._keep_final = keep_final
        # live (non-final) stops and take-profits by (address, subaccount, ticker): stop coverage
        self.protective: dict[MarketKey, dict[str, dict[str, Any]]] = {}
        self.protective_touched: set[MarketKey] = set()  # drained by the risk tracker
        self.protective_version: dict[MarketKey, int] = {}  # bumped on every change (caches)
        # the order.* kinds something reads: the others are recorded as emitted, not built
        self.kinds = frozenset(f"order.{t}" for t in ORDER_TRANSITIONS)

    def apply(
        self,
        item: dict[str, Any],
        address: str,
        subaccount: int,
        *,
        baseline: bool = False,
        quiet_at_or_below: int | None = None,
    ) -> list[tuple[str, dict[str, Any]]]:
        """Merge one order message; return (kind, data) for the transitions it implies.

        baseline: record silently (first snapshot). quiet_at_or_below: an order we never saw
        whose height is at or below this (history from before we started) is recorded silently.
        """
        order_id, status, parsed = parse(item)
        order = self.by_id.get(order_id)
        silent = baseline
        if order is None:
            if quiet_at_or_below is not None and not silent:
                h = _item_height(item)
                silent = h is not None and h <= quiet_at_or_below
            order = self.by_id[order_id] = Order(_blank(order_id, address, subaccount))
        fields = order.fields
        prev = fields["status"]
        if prev in FINAL:
            return []
        filled = fields["total_filled"]
        kinds = plan(prev, filled, status, parsed.get("total_filled", filled))
        fields.update(parsed)
        fields["previous_status"] = prev
        fields["status"] = status
        size = fields["size"]
        fields["remaining"] = None if size is None else max(size - fields["total_filled"], 0.0)
        if fields["type"] in PROTECTIVE and fields["ticker"] is not None:
            self._index(order_id, fields)
        changes = self._emit(order, kinds, silent)
        if status in FINAL:
            self._remember_final(order_id, order)
        return changes

    def _index(self, order_id: str, fields: dict[str, Any]) -> None:
        """Keep `protective` in step with one stop or take-profit order."""
        key = (fields["address"], fields["subaccount"], fields["ticker"])
        self.protective_touched.add(key)
        self.protective_version[key] = self.protective_version.get(key, 0) + 1
        if fields["status"] in FINAL or fields["status"] == "BEST_EFFORT_CANCELED":
            found = self.protective.get(key)
            if found is not None:
                found.pop(order_id, None)
                if not found:
                    del self.protective[key]
        else:
            self.protective.setdefault(key, {})[order_id] = fields

    def protecting(self, address: str, subaccount: int, ticker: str) -> list[dict[str, Any]]:
        """Live stops and take-profits of one market of one subaccount (their fields)."""
        found = self.protective.get((address, subaccount, ticker))
        return list(found.values()) if found else []

    def _emit(
        self, order: Order, kinds: list[str], silent: bool
    ) -> list[tuple[str, dict[str, Any]]]:
        """Skip transitions already emitted; one data dict shared by this message's events."""
        emitted = order.emitted
        fresh = [k for k in kinds if k not in emitted]
        if not fresh:
            return []
        order.emitted = emitted.union(fresh)
        if silent:
            return []
        wanted = self.kinds
        told = [kind for k in fresh if (kind := "order." + k) in wanted]
        if not told:
            return []
        data = dict(order.fields)
        return [(kind, data) for kind in told]

    def _remember_final(self, order_id: str, order: Order) -> None:
        """Bound memory: a final order keeps only what later messages are checked against, and
        the oldest final orders beyond keep_final are forgotten."""
        fields = order.fields
        order.fields = {key: fields[key] for key in FINAL_KEYS}
        order.emitted = frozenset()
        finals = self._finals
        finals.append(order_id)
        while len(finals) > self._keep_final:
            old = finals.popleft()
            gone = self.by_id.get(old)
            if gone is not None and gone.fields["status"] in FINAL:
                del self.by_id[old]

    def get(self, order_id: str) -> Order | None:
        """The known order, if any."""
        return self.by_id.get(order_id)

    def tracked(self, address: str, subaccount: int) -> list[str]:
        """Ids of orders we know for this subaccount that are not final yet."""
        return [
            oid
            for oid, o in self.by_id.items()
            if o.fields["subaccount"] == subaccount
            and o.fields["address"] == address
            and o.fields["status"] not in FINAL
        ]
