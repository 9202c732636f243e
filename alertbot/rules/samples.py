"""One realistic sample event per kind: `check` renders templates and checks fields with them."""

from __future__ import annotations

import copy
from typing import Any

from alertbot.core.events import KINDS, ORDER_TRANSITIONS, STOP_STATES
from alertbot.core.model import Event

ADDRESS = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"
AT = 1_717_243_200.0  # 2024-06-01T12:00:00Z

_ORDER: dict[str, Any] = {
    "order_id": "7f2a1c3e-5b9d-4e8a-9c1f-2d3b4a5c6d7e",
    "client_id": "1234567",
    "ticker": "BTC-USD",
    "side": "BUY",
    "type": "LIMIT",
    "size": 0.05,
    "price": 67250.0,
    "trigger_price": None,
    "total_filled": 0.05,
    "remaining": 0.0,
    "status": "FILLED",
    "previous_status": "OPEN",
    "time_in_force": "GTT",
    "reduce_only": False,
    "post_only": False,
    "removal_reason": None,
    "good_til_block_time": "2024-06-29T12:00:00.000Z",
    "address": ADDRESS,
    "subaccount": 0,
}
_POSITION: dict[str, Any] = {
    "address": ADDRESS,
    "subaccount": 0,
    "ticker": "ETH-USD",
    "side": "LONG",
    "size": 2.5,
    "previous_size": 2.0,
    "entry_price": 3480.5,
    "realized_pnl": 12.4,
    "unrealized_pnl": -35.2,
    "status": "OPEN",
}

SAMPLES: dict[str, dict[str, Any]] = {
    "account": {
        "address": ADDRESS,
        "subaccount": 0,
        "parent_subaccount": None,
        "equity": 1523.75,
        "free_collateral": 912.4,
        "margin_usage": 0.4012,
        "initial_margin": 611.35,
        "maintenance_margin": 366.81,
        "leverage": 2.3,
        "margin_ratio": 0.2407,
        "usdc": 1498.1,
        "position_count": 1,
        "positions": [{"ticker": "ETH-USD", "side": "LONG", "size": 2.5, "entry_price": 3480.5}],
        "origin": "ws",
    },
    **{f"order.{t}": dict(_ORDER) for t in ORDER_TRANSITIONS},
    "fill": {
        "id": "b1e0c7a4-2f3d-4c5b-8a9e-0d1c2b3a4f5e",
        "order_id": _ORDER["order_id"],
        "ticker": "BTC-USD",
        "side": "BUY",
        "size": 0.05,
        "price": 67250.0,
        "notional": 3362.5,
        "fee": 0.84,
        "liquidity": "TAKER",
        "type": "LIMIT",
        "liquidated": False,
        "deleveraged": False,
        "created_at": "2024-06-01T12:00:00.000Z",
        "height": 18_000_123,
        "address": ADDRESS,
        "subaccount": 0,
    },
    **{f"position.{t}": dict(_POSITION) for t in ("opened", "changed", "closed")},
    "risk": {
        "address": ADDRESS,
        "subaccount": 0,
        "parent_subaccount": 0,
        "margin_mode": "cross",
        "ticker": "BTC-USD",
        "side": "LONG",
        "size": 0.1,
        "oracle_price": 60000.0,
        "entry_price": 61000.0,
        "liquidation_price": 51546.39,
        "liquidation_distance_pct": 14.09,
        "liquidation_distance_usd": 8453.61,
        "maintenance_requirement": 180.0,
        "initial_requirement": 300.0,
        "initial_margin_fraction": 0.05,
        "maintenance_margin_fraction": 0.03,
        "equity": 1000.0,
        "account_maintenance_requirement": 180.0,
        "account_initial_requirement": 300.0,
        "margin_ratio": 0.18,
        "liquidatable": False,
        "stop_status": "ok",
        "stop_trigger_price": 55000.0,
        "stop_size": 0.1,
        "stop_expires_in": 2_419_200.0,
        "take_profit_expires_in": None,
        "funding_rate": 0.0000125,
        "funding_next": -0.075,
        "funding_per_day": -1.8,
        "net_funding": -0.42,
        "origin": "price",
    },
    "risk.parent": {
        "address": ADDRESS,
        "parent_subaccount": 0,
        "equity": 2523.75,
        "maintenance_requirement": 246.8,
        "position_count": 2,
        "liquidation_distance_pct": 14.09,
        "nearest_subaccount": 128,
        "nearest_ticker": "BTC-USD",
        "liquidation_price": 51546.39,
    },
    **{
        f"stop.{s}": {
            "address": ADDRESS,
            "subaccount": 0,
            "ticker": "BTC-USD",
            "side": "LONG",
            "size": 0.1,
            "oracle_price": 60000.0,
            "liquidation_price": 51546.39,
            "liquidation_distance_pct": 14.09,
            "stop_status": s,
            "stop_trigger_price": None if s == "missing" else 50000.0,
            "stop_size": 0.0 if s == "missing" else 0.1,
            "previous": None if s == "missing" else "missing",
        }
        for s in STOP_STATES
    },
    "funding": {
        "address": ADDRESS,
        "subaccount": 0,
        "ticker": "BTC-USD",
        "side": "LONG",
        "size": 0.1,
        "payment": -0.075,
        "cost": 0.075,
        "previous_payment": 0.05,
        "sign_flip": True,
        "net_funding": -0.42,
        "oracle_price": 60000.0,
        "funding_rate": 0.0000125,
        "funding_next": -0.075,
    },
    "transfer": {
        "id": "0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f",
        "type": "DEPOSIT",
        "size": 500.0,
        "symbol": "USDC",
        "sender": "dydx1senderaddressxxxxxxxxxxxxxxxxxxxxxxxx",
        "recipient": ADDRESS,
        "tx_hash": "A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90",
        "height": 18_000_100,
        "created_at": "2024-06-01T11:59:30.000Z",
        "address": ADDRESS,
        "subaccount": 0,
    },
    "market": {
        "ticker": "BTC-USD",
        "oracle_price": 67251.3,
        "status": "ACTIVE",
        "price_change_24h": 1234.5,
        "price_change_24h_pct": 1.87,
        "volume_24h": 412_345_678.9,
        "open_interest": 1523.4,
        "next_funding_rate": 0.0000125,
        "initial_margin_fraction": 0.05,
        "maintenance_margin_fraction": 0.03,
        "trades_24h": 98765,
        "snapshot": False,
    },
    "trade": {
        "id": "01a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8",
        "ticker": "BTC-USD",
        "side": "SELL",
        "size": 0.25,
        "price": 67248.0,
        "notional": 16812.0,
        "type": "LIMIT",
        "liquidation": False,
        "created_at": "2024-06-01T12:00:00.250Z",
    },
    "orderbook": {
        "ticker": "BTC-USD",
        "best_bid": 67249.0,
        "best_ask": 67251.0,
        "bid_size": 1.2,
        "ask_size": 0.8,
        "mid": 67250.0,
        "spread": 2.0,
        "spread_bps": 0.297,
        "bid_levels": 42,
        "ask_levels": 39,
    },
    "candle": {
        "ticker": "BTC-USD",
        "resolution": "1MIN",
        "started_at": "2024-06-01T12:00:00.000Z",
        "open": 67200.0,
        "high": 67290.0,
        "low": 67180.0,
        "close": 67250.0,
        "base_volume": 12.5,
        "usd_volume": 840_625.0,
        "trades": 311,
    },
    "block": {"height": 18_000_124, "time": "2024-06-01T12:00:00.412Z"},
    "connection.connected": {"conn": 0, "url": "wss://indexer.dydx.trade/v4/ws", "attempt": 1},
    "connection.lost": {"conn": 0, "code": 1006, "reason": "abnormal closure", "uptime": 3600.5},
    "connection.reconnect": {"conn": 0, "attempts": 2, "downtime": 4.2},
    "connection.gap": {"conn": 0, "missing": 3, "first_missing": 1042, "action": "resubscribe"},
    "feed.stale": {"conn": 0, "silence": 61.0},
    "source.polling": {"active": True, "down_for": 35.0, "reason": "websocket down"},
    "subscription.error": {
        "conn": 0,
        "channel": "v4_markets",
        "id": None,
        "message": "Internal error, could not fetch data for subscription",
        "action": "retry",
    },
}

assert set(SAMPLES) == set(KINDS), "every kind needs a sample"  # import-time guard

FIELDS: dict[str, frozenset[str]] = {kind: frozenset(data) for kind, data in SAMPLES.items()}


def sample_event(kind: str, at: float = AT) -> Event:
    """A fresh copy of the sample event of `kind` (safe to mutate)."""
    data = copy.deepcopy(SAMPLES[kind])
    conn = data["conn"] if isinstance(data.get("conn"), int) else 0
    return Event(kind, at, data, conn)


def known_fields(kind: str) -> frozenset[str]:
    """Field names an event of `kind` carries (empty for a kind we know nothing of)."""
    return FIELDS.get(kind, frozenset())
