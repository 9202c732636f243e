"""Pure bookkeeping for fills: position netting, realised PnL, the tape and candles."""

from __future__ import annotations

import math
from typing import Any

from alertbot.sim.fmt import iso, num, stable_uuid
from alertbot.sim.model import CANDLE_SECONDS, TRADE_HISTORY, Account, Fill, Market, Position
from alertbot.sim.views import trade_json

FEE_RATES = {"TAKER": 0.0005, "MAKER": 0.0001}
_EPSILON = 1e-12


def equity(account: Account, markets: dict[str, Market]) -> tuple[float, float]:
    """(equity, freeCollateral) by the Indexer's formula, from oracle prices."""
    value = account.usdc
    margin = 0.0
    for pos in account.positions.values():
        market = markets[pos.ticker]
        notional = pos.size * market.oracle_price
        value += notional
        margin += abs(notional) * market.initial_margin_fraction
    return value, value - margin


def new_position(
    account: Account, ticker: str, size: float, price: float, at: tuple[float, int]
) -> Position:
    """Open a position row (a fresh uuid each time, as the indexer does after a close)."""
    serial = len(account.closed) + len(account.positions)
    pos = Position(
        position_id=stable_uuid("position", account.key, ticker, serial),
        ticker=ticker,
        size=size,
        entry_price=price,
        created_at=at[0],
        created_at_height=at[1],
        max_size=size,
        sum_open=abs(size),
        side="LONG" if size > 0 else "SHORT",
    )
    account.positions[ticker] = pos
    return pos


def apply_trade(
    account: Account, ticker: str, qty: float, price: float, at: tuple[float, int]
) -> list[Position]:
    """Net a signed quantity into the account's position; return every row it touched."""
    pos = account.positions.get(ticker)
    if pos is None:
        return [new_position(account, ticker, qty, price, at)]
    if pos.size * qty > 0:
        _increase(pos, qty, price)
        return [pos]
    closing = min(abs(qty), abs(pos.size))
    _reduce(pos, closing, price)
    touched = [pos]
    if abs(pos.size) < _EPSILON:
        _close(account, pos, at[0])
    rest = abs(qty) - closing
    if rest > _EPSILON:
        touched.append(new_position(account, ticker, math.copysign(rest, qty), price, at))
    return touched


def _increase(pos: Position, qty: float, price: float) -> None:
    total = abs(pos.size) + abs(qty)
    pos.entry_price = (abs(pos.size) * pos.entry_price + abs(qty) * price) / total
    pos.size += qty
    pos.sum_open += abs(qty)
    if abs(pos.size) > abs(pos.max_size):
        pos.max_size = pos.size


def _reduce(pos: Position, closing: float, price: float) -> None:
    direction = 1.0 if pos.size > 0 else -1.0
    pos.realized_pnl += closing * (price - pos.entry_price) * direction
    previous = (pos.exit_price or 0.0) * pos.sum_close
    pos.sum_close += closing
    pos.exit_price = (previous + closing * price) / pos.sum_close
    pos.size -= closing * direction


def _close(account: Account, pos: Position, now: float) -> None:
    pos.size = 0.0
    pos.status = "CLOSED"
    pos.closed_at = now
    del account.positions[pos.ticker]
    account.closed.append(pos)


def record_trade(market: Market, fill: Fill, taker_side: str) -> dict[str, Any]:
    """Put the trade on the market's tape; return the update item (no createdAtHeight)."""
    market.trades.insert(0, trade_json(fill, taker_side, with_height=True))
    del market.trades[TRADE_HISTORY:]
    market.volume_24h += fill.size * fill.price
    market.trades_24h += 1
    return trade_json(fill, taker_side, with_height=False)


def current_candle(market: Market, resolution: str, now: float) -> dict[str, Any]:
    """The candle covering `now`, opened at the last close (or the oracle price) if new."""
    span = CANDLE_SECONDS[resolution]
    started = iso(math.floor(now / span) * span)
    candle = market.candles.get(resolution)
    if candle is not None and candle["startedAt"] == started:
        return candle
    price = candle["close"] if candle is not None else num(market.oracle_price)
    candle = {
        "startedAt": started,
        "ticker": market.ticker,
        "resolution": resolution,
        "low": price,
        "high": price,
        "open": price,
        "close": price,
        "baseTokenVolume": "0",
        "usdVolume": "0",
        "trades": 0,
        "startingOpenInterest": "0",
        "orderbookMidPriceOpen": num(market.oracle_price),
        "orderbookMidPriceClose": num(market.oracle_price),
    }
    market.candles[resolution] = candle
    return candle


def candle_trade(market: Market, resolution: str, fill: Fill) -> dict[str, Any]:
    """Fold one trade into its candle and return a copy (the v4_candles update contents)."""
    candle = current_candle(market, resolution, fill.created_at)
    price = fill.price
    candle["low"] = num(min(float(candle["low"]), price))
    candle["high"] = num(max(float(candle["high"]), price))
    candle["close"] = num(price)
    candle["baseTokenVolume"] = num(float(candle["baseTokenVolume"]) + fill.size)
    candle["usdVolume"] = num(float(candle["usdVolume"]) + fill.size * price)
    candle["trades"] += 1
    candle["orderbookMidPriceClose"] = num(market.oracle_price)
    return dict(candle)
