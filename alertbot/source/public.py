"""Public market-data items (trades, candles) to event fields."""

from __future__ import annotations

from typing import Any

from alertbot.source.numbers import count, num, opt_text, text

LIQUIDATION_TRADES = frozenset({"LIQUIDATED", "DELEVERAGED"})


def trade_data(item: dict[str, Any], ticker: str) -> dict[str, Any]:
    """One v4_trades update item; `side` is the taker's."""
    size = num(item["size"])
    price = num(item["price"])
    kind = text(item["type"])
    return {
        "id": text(item["id"]),
        "ticker": ticker,
        "side": text(item["side"]),
        "size": size,
        "price": price,
        "notional": size * price,
        "type": kind,
        "liquidation": kind in LIQUIDATION_TRADES,
        "created_at": opt_text(item.get("createdAt")),
    }


def candle_data(item: dict[str, Any], sub_id: str | None) -> dict[str, Any]:
    """One v4_candles update (a single candle); ticker/resolution fall back to the sub id."""
    ticker, _, resolution = (sub_id or "").partition("/")
    ticker = text(item.get("ticker") or ticker)
    resolution = text(item.get("resolution") or resolution)
    if not ticker or not resolution:
        raise KeyError("ticker")
    return {
        "ticker": ticker,
        "resolution": resolution,
        "started_at": text(item["startedAt"]),
        "open": num(item["open"]),
        "high": num(item["high"]),
        "low": num(item["low"]),
        "close": num(item["close"]),
        "base_volume": num(item["baseTokenVolume"]),
        "usd_volume": num(item["usdVolume"]),
        "trades": count(item["trades"]),
    }
