"""JSON shapes of the simulated records, field for field as the Indexer's REST and WS send them."""

from __future__ import annotations

from typing import Any

from alertbot.sim.fmt import iso, num
from alertbot.sim.model import Account, Fill, Market, Order, Position, Transfer

QUANTUM_CONVERSION_EXPONENT = -9
JSON = dict[str, Any]


def market_json(market: Market) -> JSON:
    """PerpetualMarketResponseObject (REST /perpetualMarkets and the v4_markets snapshot)."""
    res = market.atomic_resolution
    return {
        "clobPairId": str(market.clob_pair_id),
        "ticker": market.ticker,
        "status": "ACTIVE",
        "oraclePrice": num(market.oracle_price),
        "priceChange24H": num(market.oracle_price - market.price_24h_ago),
        "volume24H": num(market.volume_24h),
        "trades24H": market.trades_24h,
        "nextFundingRate": num(market.next_funding_rate),
        "initialMarginFraction": num(market.initial_margin_fraction),
        "maintenanceMarginFraction": num(market.maintenance_margin_fraction),
        "openInterest": "0",
        "atomicResolution": res,
        "quantumConversionExponent": QUANTUM_CONVERSION_EXPONENT,
        "tickSize": num(market.tick_size),
        "stepSize": num(market.step_size),
        "stepBaseQuantums": round(market.step_size / 10.0**res),
        "subticksPerTick": round(
            market.tick_size / 10.0 ** (QUANTUM_CONVERSION_EXPONENT - 6 - res)
        ),
        "marketType": "CROSS",
        "openInterestLowerCap": "0",
        "openInterestUpperCap": "0",
        "baseOpenInterest": "0",
        "defaultFundingRate1H": "0",
    }


def oracle_json(market: Market, now: float, height: int) -> JSON:
    """One entry of a v4_markets `oraclePrices` update."""
    return {
        "oraclePrice": num(market.oracle_price),
        "effectiveAt": iso(now),
        "effectiveAtHeight": str(height),
        "marketId": market.market_id,
    }


def _order_core(order: Order, account: Account, market: Market) -> JSON:
    out: JSON = {
        "id": order.id,
        "subaccountId": account.subaccount_id,
        "clientId": order.client_id,
        "clobPairId": str(market.clob_pair_id),
        "side": order.side,
        "size": num(order.size),
        "price": num(order.price),
        "type": order.type,
        "status": order.status,
        "timeInForce": order.time_in_force,
        "postOnly": order.post_only,
        "reduceOnly": order.reduce_only,
        "orderFlags": order.order_flags,
        "clientMetadata": "0",
        "ticker": order.ticker,
    }
    if order.good_til_block is not None:
        out["goodTilBlock"] = str(order.good_til_block)
    if order.good_til_block_time is not None:
        out["goodTilBlockTime"] = iso(order.good_til_block_time)
    return out


def order_placed_json(order: Order, account: Account, market: Market) -> JSON:
    """A placement message: vulcan sends no totalFilled (and no heights for best-effort)."""
    out = _order_core(order, account, market)
    if order.status != "BEST_EFFORT_OPENED":
        out["createdAtHeight"] = str(order.created_at_height)
        out["updatedAt"] = iso(order.updated_at)
        out["updatedAtHeight"] = str(order.updated_at_height)
    if order.trigger_price is not None:
        out["triggerPrice"] = num(order.trigger_price)
    return out


def order_row_json(order: Order, account: Account, market: Market, *, rest: bool) -> JSON:
    """The whole order row: fill/cancel messages over WS, or REST and snapshot items."""
    out = _order_core(order, account, market)
    out["totalFilled"] = num(order.total_filled)
    out["triggerPrice"] = None if order.trigger_price is None else num(order.trigger_price)
    out["createdAtHeight"] = str(order.created_at_height)
    out["updatedAt"] = iso(order.updated_at)
    out["updatedAtHeight"] = str(order.updated_at_height)
    if order.removal_reason:
        out["removalReason"] = order.removal_reason
    if rest:
        out["createdAt"] = iso(order.created_at)
        out["subaccountNumber"] = account.number
    return out


def fill_ws_json(fill: Fill, account: Account, market: Market) -> JSON:
    """A `fills` item of a v4_subaccounts update (ticker, not market; eventId as hex)."""
    out: JSON = {
        "id": fill.id,
        "subaccountId": account.subaccount_id,
        "side": fill.side,
        "liquidity": fill.liquidity,
        "type": fill.type,
        "clobPairId": str(market.clob_pair_id),
        "size": num(fill.size),
        "price": num(fill.price),
        "quoteAmount": num(fill.size * fill.price),
        "fee": num(fill.fee),
        "affiliateRevShare": "0",
        "eventId": fill.event_id,
        "transactionHash": fill.transaction_hash,
        "createdAt": iso(fill.created_at),
        "createdAtHeight": str(fill.created_at_height),
        "ticker": fill.ticker,
        "clientMetadata": "0",
    }
    if fill.order_id is not None:
        out["orderId"] = fill.order_id
    return out


def fill_rest_json(fill: Fill, account: Account) -> JSON:
    """A REST /fills item (market + marketType instead of ticker)."""
    return {
        "id": fill.id,
        "side": fill.side,
        "liquidity": fill.liquidity,
        "type": fill.type,
        "market": fill.ticker,
        "marketType": "PERPETUAL",
        "price": num(fill.price),
        "size": num(fill.size),
        "fee": num(fill.fee),
        "affiliateRevShare": "0",
        "createdAt": iso(fill.created_at),
        "createdAtHeight": str(fill.created_at_height),
        "orderId": fill.order_id,
        "clientMetadata": "0",
        "subaccountNumber": account.number,
    }


def position_ws_json(pos: Position, account: Account, oracle: float) -> JSON:
    """A `perpetualPositions` item of a v4_subaccounts update."""
    return {
        "address": account.address,
        "subaccountNumber": account.number,
        "positionId": pos.position_id,
        "market": pos.ticker,
        "side": pos.side,
        "status": pos.status,
        "size": num(pos.size),
        "maxSize": num(pos.max_size),
        "netFunding": num(pos.net_funding),
        "entryPrice": num(pos.entry_price),
        "exitPrice": None if pos.exit_price is None else num(pos.exit_price),
        "sumOpen": num(pos.sum_open),
        "sumClose": num(pos.sum_close),
        "realizedPnl": num(pos.realized_pnl),
        "unrealizedPnl": num((oracle - pos.entry_price) * pos.size),
    }


def position_rest_json(pos: Position, account: Account, oracle: float) -> JSON:
    """PerpetualPositionResponseObject (snapshot `openPerpetualPositions`, REST positions)."""
    return {
        "market": pos.ticker,
        "status": pos.status,
        "side": pos.side,
        "size": num(pos.size),
        "maxSize": num(pos.max_size),
        "entryPrice": num(pos.entry_price),
        "exitPrice": None if pos.exit_price is None else num(pos.exit_price),
        "realizedPnl": num(pos.realized_pnl),
        "unrealizedPnl": num((oracle - pos.entry_price) * pos.size),
        "createdAt": iso(pos.created_at),
        "createdAtHeight": str(pos.created_at_height),
        "closedAt": None if pos.closed_at is None else iso(pos.closed_at),
        "sumOpen": num(pos.sum_open),
        "sumClose": num(pos.sum_close),
        "netFunding": num(pos.net_funding),
        "subaccountNumber": account.number,
    }


def usdc_rest_json(account: Account) -> JSON:
    """The USDC entry of `assetPositions`: absolute size, sign carried by `side`."""
    return {
        "size": num(abs(account.usdc)),
        "symbol": "USDC",
        "side": "LONG" if account.usdc >= 0 else "SHORT",
        "assetId": "0",
        "subaccountNumber": account.number,
    }


def usdc_ws_json(account: Account) -> JSON:
    """An `assetPositions` item of a v4_subaccounts update."""
    return {
        "address": account.address,
        "subaccountNumber": account.number,
        "positionId": account.usdc_position_id,
        "assetId": "0",
        "symbol": "USDC",
        "side": "LONG" if account.usdc >= 0 else "SHORT",
        "size": num(abs(account.usdc)),
    }


def transfer_ws_json(transfer: Transfer) -> JSON:
    """The single `transfers` object of a v4_subaccounts update."""
    return {
        "sender": transfer.sender,
        "recipient": transfer.recipient,
        "symbol": "USDC",
        "size": num(transfer.size),
        "type": transfer.type,
        "transactionHash": transfer.transaction_hash,
        "createdAt": iso(transfer.created_at),
        "createdAtHeight": str(transfer.created_at_height),
    }


def transfer_rest_json(transfer: Transfer) -> JSON:
    """A REST /transfers item."""
    out = transfer_ws_json(transfer)
    return {"id": transfer.id, **out}


def trade_json(fill: Fill, taker_side: str, *, with_height: bool) -> JSON:
    """A public trade; updates carry no createdAtHeight, the snapshot and REST do."""
    out: JSON = {
        "id": fill.event_id,
        "side": taker_side,
        "size": num(fill.size),
        "price": num(fill.price),
        "type": fill.type if fill.type != "LIQUIDATION" else "LIQUIDATED",
        "createdAt": iso(fill.created_at),
    }
    if with_height:
        out["createdAtHeight"] = str(fill.created_at_height)
    return out
