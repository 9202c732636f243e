"""REST reconciliation and the polling fallback: the same events, from HTTP, not the socket."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from alertbot.core.model import Event
from alertbot.source.address import SubaccountRef, parse_subaccount
from alertbot.source.normalize import Normalizer
from alertbot.source.rest import IndexerRest, RestError

log = logging.getLogger("alertbot.source.rest")
MAX_ORDER_LOOKUPS = 20  # per account and round: orders that vanished from the open set


class RestSync:
    """Fetches accounts, orders, fills, markets and height, and feeds them to the normalizer.

    The normalizer de-duplicates (fills by id, order transitions by state, blocks by height), so
    whatever REST returns that the socket already delivered, or will deliver again when it comes
    back, produces no second event.
    """

    def __init__(
        self,
        rest: IndexerRest,
        normalizer: Normalizer,
        clock: Callable[[], float],
        *,
        concurrency: int = 4,
    ) -> None:
        self.rest = rest
        self.normalizer = normalizer
        self.clock = clock
        self._limit = asyncio.Semaphore(concurrency)
        self.errors = 0

    async def accounts(self, subs: Sequence[tuple[str, str]], *, deep: bool) -> list[Event]:
        """Reconcile account subscriptions (channel, id); `deep` adds orders and fills."""
        results = await asyncio.gather(*(self._account(ch, sid, deep) for ch, sid in subs))
        return [event for events in results for event in events]

    async def markets_and_height(self) -> list[Event]:
        """Oracle prices and the block height (what v4_markets / v4_block_height would bring)."""
        events = await self._call(self.rest.markets(), self.normalizer.rest_markets)
        return events + await self._call(self.rest.height(), self.normalizer.rest_height)

    async def _account(self, channel: str, sub_id: str, deep: bool) -> list[Event]:
        parent = channel == "v4_parent_subaccounts"
        ref = parse_subaccount(sub_id, parent=parent)
        if parent:
            return await self._parent(ref, deep)
        events = await self._call(
            self.rest.subaccount(ref),
            lambda b, t: self.normalizer.rest_subaccount(*ref_args(ref), b, t),
        )
        if not deep:
            return events
        seen: set[str] = set()

        def orders(body: Any, now: float) -> list[Event]:
            if isinstance(body, list):
                seen.update(str(o.get("id")) for o in body if isinstance(o, dict))
            return self.normalizer.rest_orders(ref.address, ref.number, body, now)

        events += await self._call(self.rest.orders(ref), orders)
        events += await self._call(
            self.rest.fills(ref), lambda b, t: self.normalizer.rest_fills(*ref_args(ref), b, t)
        )
        vanished = [i for i in self.normalizer.tracked_orders(*ref_args(ref)) if i not in seen]
        for order_id in vanished[:MAX_ORDER_LOOKUPS]:
            events += await self._call(self.rest.order(order_id), self.normalizer.rest_order)
        return events

    async def _parent(self, ref: SubaccountRef, deep: bool) -> list[Event]:
        events = await self._call(
            self.rest.parent_subaccount(ref),
            lambda b, t: self.normalizer.rest_parent_subaccount(*ref_args(ref), b, t),
        )
        if deep:
            events += await self._call(self.rest.parent_orders(ref), self._parent_orders(ref))
        return events

    def _parent_orders(self, ref: SubaccountRef) -> Callable[[Any, float], list[Event]]:
        def feed(body: Any, now: float) -> list[Event]:
            events: list[Event] = []
            by_child: dict[int, list[Any]] = {}
            for order in body if isinstance(body, list) else []:
                if isinstance(order, dict) and isinstance(order.get("subaccountNumber"), int):
                    by_child.setdefault(order["subaccountNumber"], []).append(order)
            for child, orders in by_child.items():
                events += self.normalizer.rest_orders(ref.address, child, orders, now)
            return events

        return feed

    async def _call(self, request: Any, handle: Callable[[Any, float], list[Event]]) -> list[Event]:
        async with self._limit:
            try:
                body = await request
            except RestError as exc:
                self.errors += 1
                log.warning("REST %s", exc)
                return []
        return handle(body, self.clock())


def ref_args(ref: SubaccountRef) -> tuple[str, int]:
    """(address, number) for the normalizer's REST methods."""
    return ref.address, ref.number
