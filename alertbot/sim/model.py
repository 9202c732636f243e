"""The simulated exchange's records: markets, subaccounts, positions, orders, fills, transfers."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from alertbot.sim.fmt import num, quantize, stable_uuid

CANDLE_SECONDS = {
    "1MIN": 60,
    "5MINS": 300,
    "15MINS": 900,
    "30MINS": 1800,
    "1HOUR": 3600,
    "4HOURS": 14400,
    "1DAY": 86400,
}
BOOK_DEPTH = 10  # levels per side in the synthetic order book
TRADE_HISTORY = 100  # trades kept per market for the snapshot and REST


@dataclass
class Market:
    """One perpetual market: static parameters plus the live oracle price, book and tape."""

    ticker: str
    market_id: int
    clob_pair_id: int
    oracle_price: float
    initial_margin_fraction: float
    maintenance_margin_fraction: float
    atomic_resolution: int
    tick_size: float
    step_size: float
    next_funding_rate: float = 0.0
    price_24h_ago: float = 0.0
    volume_24h: float = 0.0
    trades_24h: int = 0
    trades: list[dict[str, Any]] = field(default_factory=list)  # newest first
    bids: dict[str, str] = field(default_factory=dict)
    asks: dict[str, str] = field(default_factory=dict)
    candles: dict[str, dict[str, Any]] = field(default_factory=dict)

    def book_levels(self) -> tuple[dict[str, str], dict[str, str]]:
        """A deterministic book around the oracle price: uncrossed, BOOK_DEPTH levels a side."""
        tick = Decimal(repr(self.tick_size))
        gap = max(tick, quantize(self.oracle_price * 0.0002, self.tick_size))
        mid = quantize(self.oracle_price, self.tick_size)
        bids: dict[str, str] = {}
        asks: dict[str, str] = {}
        for i in range(BOOK_DEPTH):
            size = num(Decimal(repr(self.step_size)) * (5 + (i * 7) % 11 * 3))
            bid, ask = mid - gap * (i + 1), mid + gap * (i + 1)
            if bid > 0:
                bids[num(bid)] = size
            asks[num(ask)] = size
        return bids, asks


@dataclass
class Position:
    """An open (or just closed) perpetual position; `size` is signed like the Indexer's."""

    position_id: str
    ticker: str
    size: float
    entry_price: float
    created_at: float
    created_at_height: int
    max_size: float = 0.0
    sum_open: float = 0.0
    sum_close: float = 0.0
    realized_pnl: float = 0.0
    net_funding: float = 0.0
    exit_price: float | None = None
    closed_at: float | None = None
    status: str = "OPEN"
    side: str = "LONG"


@dataclass
class Order:
    """An order as the indexer stores it (human units; status is the API enum)."""

    id: str
    account: str
    ticker: str
    side: str
    size: float
    price: float
    type: str
    status: str
    client_id: str
    order_flags: str
    time_in_force: str
    created_at: float
    created_at_height: int
    updated_at: float
    updated_at_height: int
    good_til_block: int | None = None
    good_til_block_time: float | None = None
    trigger_price: float | None = None
    total_filled: float = 0.0
    removal_reason: str | None = None
    reduce_only: bool = False
    post_only: bool = False

    @property
    def remaining(self) -> float:
        """Size still open on the book."""
        return max(self.size - self.total_filled, 0.0)


@dataclass
class Fill:
    """One side of one match, from the point of view of the subaccount that owns it."""

    id: str
    account: str
    ticker: str
    side: str
    liquidity: str
    type: str
    size: float
    price: float
    fee: float
    event_id: str
    transaction_hash: str
    created_at: float
    created_at_height: int
    order_id: str | None = None


@dataclass
class Transfer:
    """A USDC movement into or out of a subaccount; `type` is relative to that subaccount."""

    id: str
    sender: dict[str, Any]
    recipient: dict[str, Any]
    size: float
    type: str
    transaction_hash: str
    created_at: float
    created_at_height: int


@dataclass
class Account:
    """A subaccount: USDC balance, positions, and the history REST reports."""

    address: str
    number: int
    usdc: float
    updated_at_height: int
    positions: dict[str, Position] = field(default_factory=dict)
    closed: list[Position] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The `address/number` id used on the wire."""
        return f"{self.address}/{self.number}"

    @property
    def subaccount_id(self) -> str:
        """The indexer's uuid for this subaccount (orders and fills reference it)."""
        return stable_uuid("subaccount", self.address, self.number)

    @property
    def usdc_position_id(self) -> str:
        """The uuid of the USDC asset position row."""
        return stable_uuid("asset", self.address, self.number, 0)
