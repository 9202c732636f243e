"""Perpetual market state from v4_markets and REST /perpetualMarkets: prices, margins, stats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alertbot.source.numbers import BadValue, count, num, opt_num

MAX_MARKETS = 2_000  # dYdX lists a few hundred; more is a hostile or broken server

# Indexer key -> (attribute, parser). `trading` diffs carry any subset of these (plus `id`).
_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "oraclePrice": ("oracle_price", opt_num),
    "status": ("status", str),
    "priceChange24H": ("price_change_24h", opt_num),
    "volume24H": ("volume_24h", opt_num),
    "openInterest": ("open_interest", opt_num),
    "nextFundingRate": ("next_funding_rate", opt_num),
    "initialMarginFraction": ("imf", opt_num),
    "maintenanceMarginFraction": ("mmf", opt_num),
    "trades24H": ("trades_24h", count),
    "openInterestLowerCap": ("oi_lower_cap", opt_num),
    "openInterestUpperCap": ("oi_upper_cap", opt_num),
}


class Market:
    """What alertbot knows about one market; None until the Indexer has told us."""

    __slots__ = (
        "imf",
        "mmf",
        "next_funding_rate",
        "oi_lower_cap",
        "oi_upper_cap",
        "open_interest",
        "oracle_price",
        "price_change_24h",
        "status",
        "ticker",
        "trades_24h",
        "volume_24h",
    )

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self.oracle_price: float | None = None
        self.status: str | None = None
        self.price_change_24h: float | None = None
        self.volume_24h: float | None = None
        self.open_interest: float | None = None
        self.next_funding_rate: float | None = None
        self.imf: float | None = None
        self.mmf: float | None = None
        self.trades_24h: int | None = None
        self.oi_lower_cap: float | None = None  # USDC; scales the initial margin fraction
        self.oi_upper_cap: float | None = None

    def data(self, snapshot: bool) -> dict[str, Any]:
        """The `market` event fields."""
        price, change = self.oracle_price, self.price_change_24h
        pct = None
        if price is not None and change is not None and price != change:
            pct = change / (price - change) * 100.0
        return {
            "ticker": self.ticker,
            "oracle_price": price,
            "status": self.status,
            "price_change_24h": change,
            "price_change_24h_pct": pct,
            "volume_24h": self.volume_24h,
            "open_interest": self.open_interest,
            "next_funding_rate": self.next_funding_rate,
            "initial_margin_fraction": self.imf,
            "maintenance_margin_fraction": self.mmf,
            "trades_24h": self.trades_24h,
            "snapshot": snapshot,
        }


def parse_entry(entry: dict[str, Any]) -> list[tuple[str, Any]]:
    """Parse every known field first, so a bad value leaves the market untouched."""
    out = []
    for key, value in entry.items():
        spec = _FIELDS.get(key)
        if spec is not None:
            out.append((spec[0], spec[1](value)))
    return out


class Markets:
    """All markets by ticker; the source of oracle prices and margin fractions for accounts."""

    def __init__(self) -> None:
        self.by_ticker: dict[str, Market] = {}

    def get(self, ticker: str) -> Market | None:
        """The market, or None when v4_markets has not mentioned it yet."""
        return self.by_ticker.get(ticker)

    def _new(self, ticker: str) -> Market:
        """A market first mentioned now; past MAX_MARKETS a server is flooding us: refused."""
        if len(self.by_ticker) >= MAX_MARKETS:
            raise BadValue(f"more than {MAX_MARKETS} markets")
        market = self.by_ticker[ticker] = Market(ticker)
        return market

    def merge(self, ticker: str, entry: dict[str, Any]) -> tuple[Market, bool]:
        """Apply a full entry or a `trading` diff; says whether price or margins changed."""
        parsed = parse_entry(entry)
        market = self.by_ticker.get(ticker) or self._new(ticker)
        before = (market.oracle_price, market.imf, market.mmf)
        for attr, value in parsed:
            setattr(market, attr, value)
        return market, before != (market.oracle_price, market.imf, market.mmf)

    def set_price(self, ticker: str, price: Any) -> tuple[Market, bool]:
        """Apply one `oraclePrices` entry's price; says whether it changed."""
        value = num(price)
        market = self.by_ticker.get(ticker) or self._new(ticker)
        changed = market.oracle_price != value
        market.oracle_price = value
        return market, changed
