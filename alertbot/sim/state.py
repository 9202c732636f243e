"""The simulated exchange: every control mutates state and returns the updates the Indexer emits."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from alertbot.sim import ledger, views
from alertbot.sim.fmt import event_id, iso, num, stable_uuid, tx_hash
from alertbot.sim.model import CANDLE_SECONDS, Account, Fill, Market, Order, Transfer

CONDITIONAL_TYPES = {"STOP_LIMIT", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"}
TRANSFER_TYPES = {"DEPOSIT", "WITHDRAWAL", "TRANSFER_IN", "TRANSFER_OUT"}
LONG_TERM_SECONDS = 28 * 86400
SHORT_TERM_BLOCKS = 20
# The counterparty of TRANSFER_IN/OUT: the dYdX megavault, a real 43-character address.
COUNTERPARTY = "dydx18tkxrnrkqc2t0lr3zxr5g6a4hdvqksylxqje4r"


@dataclass(frozen=True, slots=True)
class Update:
    """One message the Indexer would publish: channel, internal id and contents."""

    channel: str
    id: str
    contents: dict[str, Any]


_Control = TypeVar("_Control", bound=Callable[..., Any])


def _in_open_block(method: _Control) -> _Control:
    """A control that changes accounts: it happens in a block no snapshot has shown yet."""

    @functools.wraps(method)
    def control(self: Exchange, *args: Any, **kwargs: Any) -> Any:
        opened = self._open_block()
        result = method(self, *args, **kwargs)
        if isinstance(result, tuple):
            return (result[0], [*opened, *result[1]])
        return [*opened, *result]

    return cast(_Control, control)


class Exchange:
    """Markets and subaccounts in memory; the single source of truth for WS and REST."""

    def __init__(self, height: int, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.height = height
        self.block_time = clock()
        self.markets: dict[str, Market] = {}
        self.accounts: dict[str, Account] = {}
        self.orders: dict[str, Order] = {}
        self._seq = 0
        self.reported = -1  # the highest height a snapshot has shown as fully processed

    # --- set-up -----------------------------------------------------------------------------
    def add_market(self, market: Market) -> None:
        """Register a market and build its initial book and tape."""
        market.price_24h_ago = market.price_24h_ago or market.oracle_price
        market.bids, market.asks = market.book_levels()
        self.markets[market.ticker] = market

    def add_account(self, key: str, usdc: float) -> Account:
        """Create (or return) the subaccount `address/number`."""
        if key not in self.accounts:
            address, number = key.rsplit("/", 1)
            self.accounts[key] = Account(address, int(number), usdc, self.height)
        return self.accounts[key]

    def open_position(self, key: str, ticker: str, size: float, entry_price: float) -> None:
        """Seed a position as if it had been opened before the simulation started."""
        account = self.accounts[key]
        ledger.new_position(account, ticker, size, entry_price, (self.clock(), self.height))

    # --- lookups ----------------------------------------------------------------------------
    def market(self, ticker: str) -> Market:
        """The market, or KeyError naming the known ones."""
        if ticker not in self.markets:
            raise KeyError(f"unknown market {ticker!r}; known: {', '.join(sorted(self.markets))}")
        return self.markets[ticker]

    def account(self, key: str) -> Account:
        """The subaccount, or KeyError naming it."""
        if key not in self.accounts:
            raise KeyError(f"unknown subaccount {key!r}")
        return self.accounts[key]

    def order(self, order_id: str) -> Order:
        """The order, or KeyError naming it."""
        if order_id not in self.orders:
            raise KeyError(f"unknown order {order_id!r}")
        return self.orders[order_id]

    def equity(self, key: str) -> tuple[float, float]:
        """(equity, freeCollateral) of one subaccount."""
        return ledger.equity(self.account(key), self.markets)

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _subaccount_update(self, account: Account, **contents: Any) -> Update:
        body = {"blockHeight": str(self.height), **contents}
        return Update("v4_subaccounts", account.key, body)

    def _open_block(self) -> list[Update]:
        """Activity after a snapshot showed this height as processed goes into the next block.

        The Indexer reports `latestProcessedBlockHeight` H only once block H is complete, so a
        fill seen after such a snapshot is at H + 1 or later; without this, a fill made right
        after a snapshot would sit at a height a client rightly takes as history.
        """
        return self.new_block() if self.reported >= self.height else []

    # --- controls ---------------------------------------------------------------------------
    def new_block(self) -> list[Update]:
        """Advance the chain by one block."""
        self.height += 1
        self.block_time = self.clock()
        body = {"blockHeight": str(self.height), "time": iso(self.block_time)}
        return [Update("v4_block_height", "v4_block_height", body)]

    def oracle_heartbeat(self) -> list[Update]:
        """Every market's current oracle price again, as the Indexer keeps sending them."""
        now, height = self.clock(), self.height
        prices = {t: views.oracle_json(m, now, height) for t, m in self.markets.items()}
        return [Update("v4_markets", "v4_markets", {"oraclePrices": prices})] if prices else []

    def set_price(self, ticker: str, price: float) -> list[Update]:
        """A new oracle price: a v4_markets oraclePrices update plus the book moving with it."""
        if price <= 0:
            raise ValueError(f"price must be positive, got {price}")
        market = self.market(ticker)
        market.oracle_price = price
        oracle = views.oracle_json(market, self.clock(), self.height)
        out = [Update("v4_markets", "v4_markets", {"oraclePrices": {ticker: oracle}})]
        out += [Update("v4_orderbook", ticker, level) for level in self._move_book(market)]
        return out

    def _move_book(self, market: Market) -> list[dict[str, Any]]:
        """One update per changed level, as the Indexer sends them (absolute size, "0" deletes)."""
        bids, asks = market.book_levels()
        diffs: list[dict[str, Any]] = []
        for side, old, new in (("bids", market.bids, bids), ("asks", market.asks, asks)):
            diffs += [{side: [[p, "0"]]} for p in old if p not in new]
            diffs += [{side: [[p, s]]} for p, s in new.items() if old.get(p) != s]
        market.bids, market.asks = bids, asks
        return diffs

    @_in_open_block
    def place_order(
        self, key: str, ticker: str, side: str, size: float, price: float, **kw: Any
    ) -> tuple[Order, list[Update]]:
        """Accept an order (see Simulator.place_order for the keywords)."""
        account = self.add_account(key, 0.0)
        market = self.market(ticker)
        order = self._build_order(account, market, side.upper(), size, price, **kw)
        self.orders[order.id] = order
        body = views.order_placed_json(order, account, market)
        return order, [self._subaccount_update(account, orders=[body])]

    def _build_order(
        self,
        account: Account,
        market: Market,
        side: str,
        size: float,
        price: float,
        *,
        type: str = "LIMIT",
        order_id: str | None = None,
        client_id: str | None = None,
        status: str = "OPEN",
        trigger_price: float | None = None,
        reduce_only: bool = False,
        good_til: float | None = None,
    ) -> Order:
        if side not in ("BUY", "SELL") or size <= 0 or price <= 0:
            raise ValueError(f"bad order: side={side} size={size} price={price}")
        seq = self._next()
        conditional = type in CONDITIONAL_TYPES
        if conditional and status == "OPEN":
            status = "UNTRIGGERED"
        short_term = status.startswith("BEST_EFFORT") or type == "MARKET"
        now = self.clock()
        return Order(
            id=order_id or stable_uuid("order", account.key, seq),
            account=account.key,
            ticker=market.ticker,
            side=side,
            size=size,
            price=price,
            type=type,
            status=status,
            client_id=client_id or str(100_000_000 + seq * 7919),
            order_flags="32" if conditional else ("0" if short_term else "64"),
            time_in_force="IOC" if type == "MARKET" else "GTT",
            created_at=now,
            created_at_height=self.height,
            updated_at=now,
            updated_at_height=self.height,
            good_til_block=self.height + SHORT_TERM_BLOCKS if short_term else None,
            good_til_block_time=None if short_term else now + (good_til or LONG_TERM_SECONDS),
            reduce_only=reduce_only,
            trigger_price=trigger_price if trigger_price is not None or not conditional else price,
        )

    def _order_row(self, order: Order) -> dict[str, Any]:
        account = self.accounts[order.account]
        return views.order_row_json(order, account, self.markets[order.ticker], rest=False)

    def _touch(self, order: Order) -> None:
        order.updated_at = self.clock()
        order.updated_at_height = self.height

    @_in_open_block
    def cancel_order(self, order_id: str, reason: str, *, best_effort: bool) -> list[Update]:
        """Remove an order: CANCELED, or BEST_EFFORT_CANCELED for the optimistic vulcan state."""
        order = self.order(order_id)
        order.status = "BEST_EFFORT_CANCELED" if best_effort else "CANCELED"
        order.removal_reason = reason
        self._touch(order)
        account = self.accounts[order.account]
        return [self._subaccount_update(account, orders=[self._order_row(order)])]

    @_in_open_block
    def trigger_order(self, order_id: str) -> list[Update]:
        """A conditional order's trigger price was hit: UNTRIGGERED becomes OPEN."""
        order = self.order(order_id)
        if order.status != "UNTRIGGERED":
            raise ValueError(f"order {order_id} is {order.status}, not UNTRIGGERED")
        order.status = "OPEN"
        self._touch(order)
        account = self.accounts[order.account]
        return [self._subaccount_update(account, orders=[self._order_row(order)])]

    @_in_open_block
    def fill_order(
        self, order_id: str, size: float | None, price: float | None, liquidity: str
    ) -> tuple[Fill, list[Update]]:
        """Match (part of) an order; FILLED once nothing remains."""
        order = self.order(order_id)
        if order.status not in ("OPEN", "BEST_EFFORT_OPENED", "BEST_EFFORT_CANCELED"):
            raise ValueError(f"order {order_id} is {order.status} and cannot fill")
        qty = order.remaining if size is None else min(size, order.remaining)
        order.total_filled += qty
        if order.remaining <= 1e-12:
            order.status = "FILLED"
        self._touch(order)
        fill_price = order.price if price is None else price
        return self._execute(
            self.accounts[order.account],
            order.ticker,
            order.side,
            qty,
            fill_price,
            liquidity=liquidity,
            fill_type="LIMIT",
            order=order,
        )

    @_in_open_block
    def liquidate(self, key: str, ticker: str, price: float | None) -> tuple[Fill, list[Update]]:
        """Close the whole position with a LIQUIDATED taker fill (no order of the user's)."""
        account = self.account(key)
        pos = account.positions.get(ticker)
        if pos is None:
            raise ValueError(f"{key} has no open {ticker} position to liquidate")
        side = "SELL" if pos.size > 0 else "BUY"
        fill_price = self.market(ticker).oracle_price if price is None else price
        return self._execute(
            account,
            ticker,
            side,
            abs(pos.size),
            fill_price,
            liquidity="TAKER",
            fill_type="LIQUIDATED",
            order=None,
        )

    def _execute(
        self,
        account: Account,
        ticker: str,
        side: str,
        qty: float,
        price: float,
        *,
        liquidity: str,
        fill_type: str,
        order: Order | None,
    ) -> tuple[Fill, list[Update]]:
        market = self.market(ticker)
        seq = self._next()
        now = self.clock()
        signed = qty if side == "BUY" else -qty
        fill = Fill(
            id=stable_uuid("fill", account.key, seq),
            account=account.key,
            ticker=ticker,
            side=side,
            liquidity=liquidity,
            type=fill_type,
            size=qty,
            price=price,
            fee=qty * price * ledger.FEE_RATES[liquidity],
            event_id=event_id(self.height, 2, seq),
            transaction_hash=tx_hash(self.height, seq),
            created_at=now,
            created_at_height=self.height,
            order_id=order.id if order else None,
        )
        account.fills.insert(0, fill)
        touched = ledger.apply_trade(account, ticker, signed, price, (now, self.height))
        account.usdc -= signed * price + fill.fee
        account.updated_at_height = self.height
        return fill, self._fill_updates(account, market, fill, order, touched)

    def _fill_updates(
        self, account: Account, market: Market, fill: Fill, order: Order | None, touched: list[Any]
    ) -> list[Update]:
        body: dict[str, Any] = {"fills": [views.fill_ws_json(fill, account, market)]}
        if order is not None:
            body["orders"] = [self._order_row(order)]
        oracle = market.oracle_price
        body["perpetualPositions"] = [views.position_ws_json(p, account, oracle) for p in touched]
        body["assetPositions"] = [views.usdc_ws_json(account)]
        taker_side = fill.side if fill.liquidity == "TAKER" else _opposite(fill.side)
        trade = ledger.record_trade(market, fill, taker_side)
        tape = {"id": str(market.clob_pair_id), "trades24H": market.trades_24h}
        tape["volume24H"] = num(market.volume_24h)
        out = [
            self._subaccount_update(account, **body),
            Update("v4_trades", market.ticker, {"trades": [trade]}),
            Update("v4_markets", "v4_markets", {"trading": {market.ticker: tape}}),
        ]
        for resolution in CANDLE_SECONDS:
            candle = ledger.candle_trade(market, resolution, fill)
            out.append(Update("v4_candles", f"{market.ticker}/{resolution}", candle))
        return out

    @_in_open_block
    def funding_tick(
        self, ticker: str, rate: float | None, next_rate: float | None = None
    ) -> list[Update]:
        """Settle one funding tick: payment = -size x oracle x rate into USDC and netFunding."""
        market = self.market(ticker)
        rate = market.next_funding_rate if rate is None else rate
        out: list[Update] = []
        for account in self.accounts.values():
            pos = account.positions.get(ticker)
            if pos is None:
                continue
            payment = -pos.size * market.oracle_price * rate
            pos.net_funding += payment
            account.usdc += payment
            account.updated_at_height = self.height
            body = views.position_ws_json(pos, account, market.oracle_price)
            usdc = views.usdc_ws_json(account)
            out.append(
                self._subaccount_update(account, perpetualPositions=[body], assetPositions=[usdc])
            )
        if next_rate is not None:
            market.next_funding_rate = next_rate
            trading = {ticker: {"id": str(market.market_id), "nextFundingRate": num(next_rate)}}
            out.append(Update("v4_markets", "v4_markets", {"trading": trading}))
        return out

    @_in_open_block
    def transfer(self, key: str, amount: float, type: str) -> list[Update]:
        """Move USDC in or out of a subaccount; the update carries the transfer and the balance."""
        if type not in TRANSFER_TYPES:
            raise ValueError(f"transfer type must be one of {sorted(TRANSFER_TYPES)}, got {type!r}")
        if amount <= 0:
            raise ValueError(f"transfer amount must be positive, got {amount}")
        account = self.add_account(key, 0.0)
        incoming = type in ("DEPOSIT", "TRANSFER_IN")
        account.usdc += amount if incoming else -amount
        account.updated_at_height = self.height
        record = self._transfer_record(account, amount, type, incoming)
        account.transfers.insert(0, record)
        body = {"transfers": views.transfer_ws_json(record)}
        return [
            self._subaccount_update(account, assetPositions=[views.usdc_ws_json(account)], **body)
        ]

    def _transfer_record(
        self, account: Account, amount: float, type: str, incoming: bool
    ) -> Transfer:
        seq = self._next()
        own = {"address": account.address, "subaccountNumber": account.number}
        if type in ("DEPOSIT", "WITHDRAWAL"):
            other: dict[str, Any] = {"address": account.address}  # the owner's wallet
        else:
            other = {"address": COUNTERPARTY, "subaccountNumber": 0}
        sender, recipient = (other, own) if incoming else (own, other)
        return Transfer(
            id=stable_uuid("transfer", account.key, seq),
            sender=sender,
            recipient=recipient,
            size=amount,
            type=type,
            transaction_hash=tx_hash("transfer", seq),
            created_at=self.clock(),
            created_at_height=self.height,
        )


def _opposite(side: str) -> str:
    return "SELL" if side == "BUY" else "BUY"
