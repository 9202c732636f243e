"""Fills and transfers of a subaccount: parsing and bounded de-duplication."""

from __future__ import annotations

from collections import deque
from typing import Any

from alertbot.source.numbers import num, opt_height, opt_num, opt_text, text

KEEP_IDS = 100_000


class Recent:
    """A set that remembers only the last `limit` ids, so memory stays bounded.

    An id may carry a tag (the subaccount it belongs to), so that a cluster replica giving a
    subaccount up forgets its ids with it: seen is not told when the fence dropped the event.
    """

    __slots__ = ("_by_tag", "_limit", "_order", "_seen", "_tag_of")

    def __init__(self, limit: int = KEEP_IDS) -> None:
        self._seen: set[str] = set()
        self._order: deque[str] = deque()
        self._limit = limit
        self._tag_of: dict[str, Any] = {}
        self._by_tag: dict[Any, set[str]] = {}

    def add(self, key: str, tag: Any = None) -> bool:
        """Record the id; False when it was already there (a duplicate)."""
        if key in self._seen:
            return False
        self._seen.add(key)
        self._order.append(key)
        if tag is not None:
            self._tag_of[key] = tag
            self._by_tag.setdefault(tag, set()).add(key)
        if len(self._order) > self._limit:
            self._forget(self._order.popleft())
        return True

    def _forget(self, key: str) -> None:
        self._seen.discard(key)
        tag = self._tag_of.pop(key, None)
        if tag is not None:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]

    def discard_tag(self, tag: Any) -> int:
        """Forget every id recorded with this tag; how many (their order slots lapse later)."""
        keys = self._by_tag.pop(tag, set())
        for key in keys:
            self._seen.discard(key)
            self._tag_of.pop(key, None)
        return len(keys)

    def __contains__(self, key: object) -> bool:
        return key in self._seen

    def __len__(self) -> int:
        return len(self._seen)


def advance(mark: tuple[int, set[str]] | None, at: int | None, item_id: str) -> Any:
    """The newest (height, ids at that height) after seeing one more item (a catch-up cursor)."""
    if at is None:
        return mark
    if mark is None or at > mark[0]:
        return (at, {item_id})
    if at == mark[0]:
        mark[1].add(item_id)
    return mark


def fill_data(item: dict[str, Any], address: str, subaccount: int) -> dict[str, Any]:
    """The `fill` event fields from a WS fill (`ticker`) or a REST fill (`market`)."""
    size = num(item["size"])
    price = num(item["price"])
    quote = item.get("quoteAmount")
    kind = text(item["type"])
    ticker = item.get("ticker")
    return {
        "id": text(item["id"]),
        "order_id": opt_text(item.get("orderId")),
        "ticker": text(ticker if ticker is not None else item["market"]),
        "side": text(item["side"]),
        "size": size,
        "price": price,
        "notional": abs(size * price) if quote is None else num(quote),
        "fee": opt_num(item.get("fee")),
        "liquidity": opt_text(item.get("liquidity")),
        "type": kind,
        "liquidated": kind == "LIQUIDATED",
        "deleveraged": kind == "DELEVERAGED",
        "created_at": opt_text(item.get("createdAt")),
        "height": opt_height(item.get("createdAtHeight")),
        "address": address,
        "subaccount": subaccount,
        "catchup": False,
    }


def _party(value: Any) -> str | None:
    """A transfer party as "address/N" for a subaccount or the bare address for a wallet."""
    if value is None:
        return None
    address = text(value["address"])
    number = value.get("subaccountNumber")
    return address if number is None else f"{address}/{int(number)}"


def transfer_data(item: dict[str, Any], address: str, subaccount: int) -> dict[str, Any]:
    """The `transfer` event fields; the id is transactionHash:type (a hash alone is shared by
    both sides of a transfer between two of the user's subaccounts)."""
    tx_hash = text(item["transactionHash"])
    kind = text(item["type"])
    return {
        "id": f"{tx_hash}:{kind}",
        "type": kind,
        "size": num(item["size"]),
        "symbol": opt_text(item.get("symbol")),
        "sender": _party(item.get("sender")),
        "recipient": _party(item.get("recipient")),
        "tx_hash": tx_hash,
        "height": opt_height(item.get("createdAtHeight")),
        "created_at": opt_text(item.get("createdAt")),
        "address": address,
        "subaccount": subaccount,
        "catchup": False,
    }
