"""REST reconciliation, catch-up and the polling fallback: the same events, from HTTP.

A round first fetches every body it needs, then applies them in a fixed order through the pure
`apply_round` (the normalizer plus `catchup.finish_round`). `record` stores the bodies of each
round and `replay` feeds them to the same function on the recording's clock, so a replay of an
outage sees exactly what the live run saw.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from alertbot.core.model import Event
from alertbot.source.address import SubaccountRef, parse_subaccount
from alertbot.source.catchup import finish_round, parse_time
from alertbot.source.normalize import Normalizer
from alertbot.source.rest import IndexerRest, RestError

log = logging.getLogger("alertbot.source.rest")
MAX_ORDER_LOOKUPS = 20  # per account and round: orders that vanished from the open set
PAGE = 100  # fills and transfers per request
MAX_PAGES = 20  # per account and round: older history is past any sensible lookback
Response = tuple[str, str, Any]  # (call, target: "address/number" or an order id, JSON body)
RoundHook = Callable[[float, str, list[Response]], None]


class RestSync:
    """Fetches accounts, orders, fills, transfers, markets and height; applies them in order.

    The normalizer de-duplicates (fills by id, transfers by hash and type, order transitions by
    state, blocks by height), so whatever REST returns that the socket already delivered, or
    will deliver again when it comes back, produces no second event.
    """

    def __init__(
        self,
        rest: IndexerRest,
        normalizer: Normalizer,
        clock: Callable[[], float],
        *,
        lookback: float = 86400.0,
        on_round: RoundHook | None = None,
        concurrency: int = 4,
    ) -> None:
        self.rest = rest
        self.normalizer = normalizer
        self.clock = clock
        self.lookback = lookback
        self.on_round = on_round
        self._limit = asyncio.Semaphore(concurrency)
        self.errors = 0
        self.rounds = 0  # rounds applied (tests wait on it; metrics may show it)

    async def accounts(
        self, subs: Sequence[tuple[str, str]], *, deep: bool, origin: str = "reconcile"
    ) -> list[Event]:
        """Reconcile account subscriptions (channel, id); `deep` adds orders, fills, transfers."""
        results = await asyncio.gather(*(self._account(ch, sid, deep) for ch, sid in subs))
        return self.apply([r for responses in results for r in responses], origin)

    async def markets_and_height(self) -> list[Event]:
        """Oracle prices and the block height (what v4_markets / v4_block_height would bring)."""
        found = [("markets", "", await self._get(self.rest.markets))]
        found.append(("height", "", await self._get(self.rest.height)))
        return self.apply([r for r in found if r[2] is not None], "poll")

    async def height(self) -> int | None:
        """The Indexer's latest block height (GET /height), without applying it."""
        body = await self._get(self.rest.height)
        return _height(body.get("height")) if isinstance(body, dict) else None

    def apply(self, responses: list[Response], origin: str) -> list[Event]:
        """Apply one round's bodies now (and hand them to the recorder first)."""
        if not responses:
            return []
        now = self.clock()
        self.rounds += 1
        if self.on_round is not None:
            self.on_round(now, origin, responses)
        return apply_round(self.normalizer, responses, now, self.lookback, origin)

    async def _account(self, channel: str, sub_id: str, deep: bool) -> list[Response]:
        parent = channel == "v4_parent_subaccounts"
        ref = parse_subaccount(sub_id, parent=parent)
        target = f"{ref.address}/{ref.number}"
        rest = self.rest
        calls: list[tuple[str, Callable[[], Awaitable[Any]]]]
        if parent:
            calls = [("parent", lambda: rest.parent_subaccount(ref))]
            if deep:
                calls.append(("parent_orders", lambda: rest.parent_orders(ref)))
                calls.append(
                    ("parent_fills", lambda: self._pages(rest.parent_fills, ref, "fills", True))
                )
                calls.append(
                    (
                        "parent_transfers",
                        lambda: self._pages(rest.parent_transfers, ref, "transfers", True),
                    )
                )
        else:
            calls = [("subaccount", lambda: rest.subaccount(ref))]
            if deep:
                calls.append(("orders", lambda: rest.orders(ref)))
                calls.append(("fills", lambda: self._pages(rest.fills, ref, "fills", False)))
                calls.append(
                    ("transfers", lambda: self._pages(rest.transfers, ref, "transfers", False))
                )
        found = [(call, target, await self._get(request)) for call, request in calls]
        out = [r for r in found if r[2] is not None]
        if deep and not parent:
            out += await self._vanished(ref, out)
        return out

    async def _vanished(self, ref: SubaccountRef, found: list[Response]) -> list[Response]:
        """Orders we track that left the latest orders: ask for each (it filled or canceled)."""
        body = next((b for call, _, b in found if call == "orders"), None)
        if not isinstance(body, list):
            return []
        seen = {str(o.get("id")) for o in body if isinstance(o, dict)}
        tracked = self.normalizer.tracked_orders(ref.address, ref.number)
        vanished = [i for i in tracked if i not in seen][:MAX_ORDER_LOOKUPS]
        out = []
        for order_id in vanished:
            got = await self._get(partial(self.rest.order, order_id))
            if got is not None:
                out.append(("order", order_id, got))
        return out

    async def _pages(
        self, fetch: Callable[..., Awaitable[Any]], ref: SubaccountRef, key: str, parent: bool
    ) -> Any:
        """Newest first, page by page, until the page reaches what we know or the lookback.

        With nothing known yet (a first sight) one page is enough: it is the baseline.
        """
        floor = self._known_height(ref, key, parent)
        horizon = self.clock() - self.lookback
        items: dict[str, Any] = {}
        before: int | None = None
        for _ in range(MAX_PAGES):
            body = await fetch(ref, limit=PAGE, before_height=before)
            page = body.get(key) if isinstance(body, dict) else None
            if not isinstance(page, list):
                return body
            for item in page:
                if isinstance(item, dict):
                    items.setdefault(str(item.get("id")), item)
            if floor is None or len(page) < PAGE or not isinstance(page[-1], dict):
                break
            last = page[-1]
            oldest = _height(last.get("createdAtHeight"))
            at = parse_time(last.get("createdAt"))
            if oldest is None or oldest <= floor or (at is not None and at < horizon):
                break
            before = oldest if before != oldest else oldest - 1
        return {key: list(items.values())}

    def _known_height(self, ref: SubaccountRef, key: str, parent: bool) -> int | None:
        """The newest height of what we already know (of every child, for a parent)."""
        known: list[int] = []
        for (address, number), acct in self.normalizer.subs.accounts.by_key.items():
            mine = number % 128 == ref.number if parent else number == ref.number
            if address != ref.address or not mine:
                continue
            floor = acct.baseline_height if key == "fills" else acct.transfer_floor
            floor = acct.baseline_height if floor is None else floor
            mark = acct.fill_mark if key == "fills" else acct.transfer_mark
            if mark is not None:
                floor = mark[0] if floor is None else max(floor, mark[0])
            if floor is None:
                return None
            known.append(floor)
        return min(known) if known else None

    async def _get(self, request: Callable[[], Awaitable[Any]]) -> Any:
        async with self._limit:
            try:
                return await request()
            except RestError as exc:
                self.errors += 1
                log.warning("REST %s", exc)
                return None


def _height(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def apply_round(
    normalizer: Normalizer, responses: list[Response], now: float, lookback: float, origin: str
) -> list[Event]:
    """Pure: one round's REST bodies, in order, to events (`record` and `replay` share it)."""
    events: list[Event] = []
    for call, target, body in responses:
        handler = _HANDLERS.get(call)
        if handler is None:
            continue
        events += handler(normalizer, target, body, now)
    return finish_round(events, now, lookback, origin)


def _sub(target: str) -> tuple[str, int]:
    address, _, number = target.rpartition("/")
    return address, int(number)


def _by_child(items: Any) -> dict[int, list[Any]]:
    """A parent's listing split per child subaccount (items carry `subaccountNumber`)."""
    out: dict[int, list[Any]] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("subaccountNumber"), int):
            out.setdefault(item["subaccountNumber"], []).append(item)
    return out


def _parent_orders(n: Normalizer, target: str, body: Any, now: float) -> list[Event]:
    address, _ = _sub(target)
    events: list[Event] = []
    for child, orders in _by_child(body).items():
        events += n.rest_orders(address, child, orders, now)
    return events


def _parent_fills(n: Normalizer, target: str, body: Any, now: float) -> list[Event]:
    address, _ = _sub(target)
    fills = body.get("fills") if isinstance(body, dict) else None
    events: list[Event] = []
    for child, items in _by_child(fills).items():
        events += n.rest_fills(address, child, {"fills": items}, now)
    return events


_HANDLERS: dict[str, Callable[[Normalizer, str, Any, float], list[Event]]] = {
    "subaccount": lambda n, t, b, now: n.rest_subaccount(*_sub(t), b, now),
    "parent": lambda n, t, b, now: n.rest_parent_subaccount(*_sub(t), b, now),
    "orders": lambda n, t, b, now: n.rest_orders(*_sub(t), b, now),
    "parent_orders": _parent_orders,
    "order": lambda n, t, b, now: n.rest_order(b, now),
    "fills": lambda n, t, b, now: n.rest_fills(*_sub(t), b, now),
    "parent_fills": _parent_fills,
    "transfers": lambda n, t, b, now: n.rest_transfers(*_sub(t), b, now),
    "parent_transfers": lambda n, t, b, now: n.rest_transfers(*_sub(t), b, now, parent=True),
    "markets": lambda n, t, b, now: n.rest_markets(b, now),
    "height": lambda n, t, b, now: n.rest_height(b, now),
}
