"""A per-market order book kept from the snapshot and absolute-size level updates, uncrossed."""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from typing import Any


class BookSide:
    """Price -> size levels with a lazily cleaned heap, so the best price costs O(log n)."""

    __slots__ = ("heap", "levels", "sign")

    def __init__(self, sign: float) -> None:
        self.levels: dict[float, float] = {}
        self.heap: list[float] = []  # sign * price; stale entries are dropped when they surface
        self.sign = sign  # -1.0 for bids (max first), 1.0 for asks (min first)

    def set(self, price: float, size: float) -> None:
        """An update carries the new total at the level; zero deletes it."""
        levels = self.levels
        if size == 0.0:
            levels.pop(price, None)
            return
        if price not in levels:
            heappush(self.heap, self.sign * price)
            if len(self.heap) > 2 * len(levels) + 64:
                self._compact()
        levels[price] = size

    def best(self) -> float | None:
        """The best live price, discarding heap entries whose level was deleted."""
        heap, levels, sign = self.heap, self.levels, self.sign
        while heap:
            price = heap[0] * sign
            if price in levels:
                return price
            heappop(heap)
        return None

    def drop_best(self) -> None:
        """Remove the best level (used to uncross)."""
        price = self.best()
        if price is not None:
            del self.levels[price]
            heappop(self.heap)

    def _compact(self) -> None:
        """Rebuild the heap when deleted levels pile up, keeping memory bounded."""
        self.heap = [self.sign * p for p in self.levels]
        heapify(self.heap)


class Book:
    """Both sides of one market; the latest update wins when the book would cross."""

    __slots__ = ("asks", "bids", "ticker")

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self.bids = BookSide(-1.0)
        self.asks = BookSide(1.0)

    def bid(self, price: float, size: float) -> None:
        """Set a bid level and drop asks at or below it."""
        self.bids.set(price, size)
        if size:
            asks = self.asks
            best = asks.best()
            while best is not None and best <= price:
                asks.drop_best()
                best = asks.best()

    def ask(self, price: float, size: float) -> None:
        """Set an ask level and drop bids at or above it."""
        self.asks.set(price, size)
        if size:
            bids = self.bids
            best = bids.best()
            while best is not None and best >= price:
                bids.drop_best()
                best = bids.best()

    def summary(self) -> dict[str, Any]:
        """The `orderbook` event fields."""
        bb, ba = self.bids.best(), self.asks.best()
        mid = spread = bps = None
        if bb is not None and ba is not None:
            mid = (bb + ba) / 2.0
            spread = ba - bb
            bps = spread / mid * 10_000.0 if mid else None
        return {
            "ticker": self.ticker,
            "best_bid": bb,
            "best_ask": ba,
            "bid_size": None if bb is None else self.bids.levels[bb],
            "ask_size": None if ba is None else self.asks.levels[ba],
            "mid": mid,
            "spread": spread,
            "spread_bps": bps,
            "bid_levels": len(self.bids.levels),
            "ask_levels": len(self.asks.levels),
        }
