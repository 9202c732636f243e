"""A per-market order book kept from the snapshot and absolute-size level updates, uncrossed."""

from __future__ import annotations

from collections.abc import Callable
from heapq import heapify, heappop, heappush
from typing import Any

from alertbot.source.numbers import BAD_ITEM, BadValue, num

MAX_LEVELS = 20_000  # per side; real books hold hundreds, so more is a hostile server
BadLevel = Callable[[Exception, Any], None]  # told about each level it could not apply
Top = tuple[float | None, float | None, float | None, float | None]


class BookSide:
    """Price -> size levels with a lazily cleaned heap, so the best price costs O(log n)."""

    __slots__ = ("cached", "heap", "levels", "sign")

    def __init__(self, sign: float) -> None:
        self.levels: dict[float, float] = {}
        self.heap: list[float] = []  # sign * price; stale entries are dropped when they surface
        self.sign = sign  # -1.0 for bids (max first), 1.0 for asks (min first)
        self.cached: float | None = None  # the best price, None when unknown (recomputed lazily)

    def set(self, price: float, size: float) -> None:
        """An update carries the new total at the level; zero deletes it."""
        levels = self.levels
        if size == 0.0:
            if levels.pop(price, None) is not None and price == self.cached:
                self.cached = None
            return
        if price not in levels:
            if len(levels) >= MAX_LEVELS:
                raise BadValue(f"more than {MAX_LEVELS} levels on one side")
            heappush(self.heap, self.sign * price)
            if len(self.heap) > 2 * len(levels) + 64:
                self._compact()
            best = self.cached
            if best is not None and self.sign * price < self.sign * best:
                self.cached = price
        levels[price] = size

    def best(self) -> float | None:
        """The best live price, discarding heap entries whose level was deleted."""
        if self.cached is not None:
            return self.cached
        heap, levels, sign = self.heap, self.levels, self.sign
        while heap:
            price = heap[0] * sign
            if price in levels:
                self.cached = price
                return price
            heappop(heap)
        return None

    def drop_best(self) -> None:
        """Remove the best level (used to uncross)."""
        price = self.best()
        if price is not None:
            del self.levels[price]
            heappop(self.heap)
            self.cached = None

    def _compact(self) -> None:
        """Rebuild the heap when deleted levels pile up, keeping memory bounded."""
        self.heap = [self.sign * p for p in self.levels]
        heapify(self.heap)
        self.cached = None


class Book:
    """Both sides of one market; the latest update wins when the book would cross."""

    __slots__ = ("asks", "bids", "ticker", "top")

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self.bids = BookSide(-1.0)
        self.asks = BookSide(1.0)
        self.top: Top | None = None

    def top_changed(self) -> bool:
        """True when best bid/ask or their sizes moved since the last call (not deep levels).

        Most level updates are deep in the book; an `orderbook` event per update would flood rules
        with identical top-of-book values, so events are emitted only when the top changes.
        """
        return self.moved() is not None

    def moved(self) -> Top | None:
        """The new (best bid, best ask, bid size, ask size) if it moved since the last call."""
        bids, asks = self.bids, self.asks
        bb = bids.cached
        if bb is None:
            bb = bids.best()
        ba = asks.cached
        if ba is None:
            ba = asks.best()
        top = (
            bb,
            ba,
            None if bb is None else bids.levels[bb],
            None if ba is None else asks.levels[ba],
        )
        if top == self.top:
            return None
        self.top = top
        return top

    def apply(self, bids: Any, asks: Any, bad: BadLevel) -> None:
        """Apply update levels only (nobody reads the book's events now: no top check)."""
        if bids:
            _apply(bids, self.bids, self.asks, bad)
        if asks:
            _apply(asks, self.asks, self.bids, bad)

    def update(self, bids: Any, asks: Any, bad: BadLevel) -> dict[str, Any] | None:
        """Apply update levels ([price, size] arrays); the summary if the top moved, else None.

        The hot path of the order book channel: levels are parsed and applied in one loop.
        """
        if bids:
            _apply(bids, self.bids, self.asks, bad)
        if asks:
            _apply(asks, self.asks, self.bids, bad)
        top = self.moved()
        return None if top is None else self._summary(top)

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
        return self._summary(
            (
                bb,
                ba,
                None if bb is None else self.bids.levels[bb],
                None if ba is None else self.asks.levels[ba],
            )
        )

    def _summary(self, top: Top) -> dict[str, Any]:
        bb, ba, bid_size, ask_size = top
        mid = spread = bps = None
        if bb is not None and ba is not None:
            mid = (bb + ba) / 2.0
            spread = ba - bb
            bps = spread / mid * 10_000.0 if mid else None
        return {
            "ticker": self.ticker,
            "best_bid": bb,
            "best_ask": ba,
            "bid_size": bid_size,
            "ask_size": ask_size,
            "mid": mid,
            "spread": spread,
            "spread_bps": bps,
            "bid_levels": len(self.bids.levels),
            "ask_levels": len(self.asks.levels),
        }


def _apply(levels: Any, side: BookSide, other: BookSide, bad: BadLevel) -> None:
    """Set [price, size] levels on `side` (as Book.bid/ask do), reporting each bad level."""
    sign = other.sign  # a level crosses `other` where sign * other_best <= sign * price
    for level in levels:
        try:
            text = level[0]
            price = float(text) if text.__class__ is str else num(text)
            if price - price != 0.0:  # NaN or infinity spelled as a string
                raise BadValue("non-numeric value")
            text = level[1]
            size = float(text) if text.__class__ is str else num(text)
            if size - size != 0.0:
                raise BadValue("non-numeric value")
            side.set(price, size)
            if size:
                best = other.cached if other.cached is not None else other.best()
                while best is not None and sign * best <= sign * price:
                    other.drop_best()
                    best = other.best()
        except BAD_ITEM as exc:
            bad(exc, level)
