"""Subaccount state: positions, USDC, live equity and margin, and position diffs."""

from __future__ import annotations

from typing import Any

from alertbot.source.markets import Markets
from alertbot.source.numbers import BadValue, num, opt_num, text
from alertbot.source.risk import margin_ratio

# margin_usage and leverage are capped so they stay finite (JSON-safe) and comparable:
# equity <= 0 with open positions reports the cap.
RATIO_CAP = 1000.0

Key = tuple[str, int]


class Position:
    """One open perpetual position; `mark` values it until v4_markets gives a price."""

    __slots__ = (
        "entry_price",
        "mark",
        "net_funding",
        "realized_pnl",
        "side",
        "size",
        "status",
        "ticker",
        "unrealized_pnl",
    )

    def __init__(self, ticker: str, side: str, size: float, status: str) -> None:
        self.ticker = ticker
        self.side = side
        self.size = size
        self.status = status
        self.entry_price: float | None = None
        self.realized_pnl: float | None = None
        self.unrealized_pnl: float | None = None
        self.net_funding: float | None = None  # settled funding so far (+ = received)
        self.mark = 0.0


def parse_position(item: dict[str, Any], previous: Position | None) -> Position:
    """A perpetualPositions item (snapshot, update or REST); a transient entryPrice "0" is ignored.

    The mark price is the one the Indexer implied (entry + unrealizedPnl / size), else the
    previous mark, else the entry price.
    """
    size = num(item["size"])
    pos = Position(text(item["market"]), text(item["side"]), size, text(item["status"]))
    entry = opt_num(item.get("entryPrice"))
    if not entry and previous is not None:
        entry = previous.entry_price
    pos.entry_price = entry
    pos.realized_pnl = opt_num(item.get("realizedPnl"))
    pos.unrealized_pnl = opt_num(item.get("unrealizedPnl"))
    pos.net_funding = opt_num(item.get("netFunding"))
    if pos.net_funding is None and previous is not None:
        pos.net_funding = previous.net_funding
    if entry and pos.unrealized_pnl is not None and size:
        pos.mark = entry + pos.unrealized_pnl / size
    elif previous is not None:
        pos.mark = previous.mark
    else:
        pos.mark = entry or 0.0
    return pos


def parse_usdc(item: dict[str, Any]) -> float | None:
    """Signed USDC balance from an asset position (size is absolute; SHORT means negative)."""
    if item.get("symbol") != "USDC":
        return None
    size = num(item["size"])
    side = item.get("side")
    if side == "SHORT":
        return -size
    if side != "LONG":
        raise BadValue("wrong type")
    return size


class Account:
    """One subaccount as we know it, with the offset that reconciles us to the Indexer's equity."""

    __slots__ = (
        "address",
        "adjust",
        "baseline_height",
        "fill_mark",
        "number",
        "orders_synced",
        "parent",
        "positions",
        "synced",
        "transfer_floor",
        "transfer_mark",
        "usdc",
    )

    def __init__(self, address: str, number: int, parent: int | None) -> None:
        self.address = address
        self.number = number
        self.parent = parent
        self.usdc = 0.0
        self.positions: dict[str, Position] = {}
        self.adjust = 0.0  # reported equity minus ours at the last snapshot/REST (e.g. funding)
        self.baseline_height: int | None = None  # REST history at or below this never alerts
        self.synced = False  # positions/USDC baseline taken (first snapshot or REST body)
        self.orders_synced = False  # orders baseline taken
        # the newest fill and transfer seen: (height, ids at that height), the catch-up cursors
        self.fill_mark: tuple[int, set[str]] | None = None
        self.transfer_mark: tuple[int, set[str]] | None = None
        self.transfer_floor: int | None = None  # REST transfers at or below this are history


def account_price(pos: Position, markets: Markets) -> float:
    """The oracle price of a position's market, else the mark the Indexer implied."""
    market = markets.get(pos.ticker)
    if market is not None and market.oracle_price is not None:
        return market.oracle_price
    return pos.mark


def raw_equity(acct: Account, markets: Markets) -> float:
    """USDC plus the signed value of every position, without the reconciliation offset."""
    total = acct.usdc
    for pos in acct.positions.values():
        total += pos.size * account_price(pos, markets)
    return total


def _ratio(value: float, equity: float, has_positions: bool) -> float:
    if not has_positions:
        return 0.0
    if equity <= 0.0:
        return RATIO_CAP
    return min(value / equity, RATIO_CAP)


def _valuation(
    acct: Account, markets: Markets
) -> tuple[float, float, float, float, list[dict[str, Any]]]:
    """Signed value, initial margin, maintenance margin, gross notional, per-position rows."""
    value_sum = im = mm = gross = 0.0
    rows = []
    for pos in acct.positions.values():
        price = account_price(pos, markets)
        value = pos.size * price
        notional = abs(value)
        value_sum += value
        gross += notional
        market = markets.get(pos.ticker)
        if market is not None:
            im += notional * (market.imf or 0.0)
            mm += notional * (market.mmf or 0.0)
        upnl = None if pos.entry_price is None else pos.size * (price - pos.entry_price)
        rows.append(
            {
                "ticker": pos.ticker,
                "side": pos.side,
                "size": pos.size,
                "entry_price": pos.entry_price,
                "oracle_price": price,
                "notional": notional,
                "unrealized_pnl": upnl,
            }
        )
    return value_sum, im, mm, gross, rows


def account_data(
    acct: Account,
    markets: Markets,
    origin: str,
    reported: tuple[float, float | None] | None = None,
) -> dict[str, Any]:
    """The `account` event fields; `reported` (equity, freeCollateral) wins when given."""
    value, im, mm, gross, rows = _valuation(acct, markets)
    equity = acct.usdc + value + acct.adjust
    free = equity - im
    if reported is not None:
        equity = reported[0]
        free = equity - im if reported[1] is None else reported[1]
    return {
        "address": acct.address,
        "subaccount": acct.number,
        "parent_subaccount": acct.parent,
        "equity": equity,
        "free_collateral": free,
        "margin_usage": _ratio(im, equity, bool(rows)),
        "initial_margin": im,
        "maintenance_margin": mm,
        "leverage": _ratio(gross, equity, bool(rows)),
        "margin_ratio": margin_ratio(mm, equity),
        "usdc": acct.usdc,
        "position_count": len(rows),
        "positions": rows,
        "origin": origin,
    }


def position_data(
    acct: Account, pos: Position, previous_size: float, status: str | None = None
) -> dict[str, Any]:
    """The `position.*` event fields."""
    closing = status is not None
    return {
        "address": acct.address,
        "subaccount": acct.number,
        "ticker": pos.ticker,
        "side": pos.side,
        "size": 0.0 if closing else pos.size,
        "previous_size": previous_size,
        "entry_price": pos.entry_price,
        "realized_pnl": pos.realized_pnl,
        "unrealized_pnl": pos.unrealized_pnl,
        "status": status or pos.status,
        "catchup": False,
    }


class Accounts:
    """Every subaccount by (address, number), and who holds each market (for price recompute)."""

    def __init__(self) -> None:
        self.by_key: dict[Key, Account] = {}
        self.holders: dict[str, set[Key]] = {}
        self.families: dict[Key, set[int]] = {}  # (address, parent) -> subaccount numbers

    def get(self, address: str, number: int, parent: int | None) -> Account:
        """The account, created empty on first mention."""
        acct = self.by_key.get((address, number))
        if acct is None:
            acct = self.by_key[(address, number)] = Account(address, number, parent)
        elif parent is not None:
            acct.parent = parent
        if parent is not None:
            self.families.setdefault((address, parent), set()).add(number)
        return acct

    def family(self, address: str, parent: int) -> list[Account]:
        """Every known subaccount of a parent (the parent itself and its isolated children)."""
        numbers = self.families.get((address, parent), ())
        return [self.by_key[(address, n)] for n in sorted(numbers)]

    def holding(self, ticker: str) -> list[Account]:
        """Accounts with an open position in this market."""
        keys = self.holders.get(ticker)
        return [self.by_key[k] for k in keys] if keys else []

    def put(self, acct: Account, pos: Position) -> tuple[str, dict[str, Any]] | None:
        """Apply one parsed position; the position event it implies, if any."""
        old = acct.positions.get(pos.ticker)
        if pos.status != "OPEN" or pos.size == 0.0:
            if old is None:
                return None
            self._drop(acct, pos.ticker)
            pos.side = old.side
            status = pos.status if pos.status != "OPEN" else "CLOSED"
            return "position.closed", position_data(acct, pos, old.size, status)
        acct.positions[pos.ticker] = pos
        if old is None:
            self.holders.setdefault(pos.ticker, set()).add((acct.address, acct.number))
            return "position.opened", position_data(acct, pos, 0.0)
        if old.size != pos.size:
            return "position.changed", position_data(acct, pos, old.size)
        return None

    def replace(
        self, acct: Account, positions: dict[str, Position]
    ) -> list[tuple[str, dict[str, Any]]]:
        """A snapshot's full position set: diff against what we had."""
        out = []
        for ticker in [t for t in acct.positions if t not in positions]:
            old = acct.positions[ticker]
            self._drop(acct, ticker)
            out.append(("position.closed", position_data(acct, old, old.size, "CLOSED")))
        for pos in positions.values():
            change = self.put(acct, pos)
            if change is not None:
                out.append(change)
        return out

    def _drop(self, acct: Account, ticker: str) -> None:
        del acct.positions[ticker]
        keys = self.holders.get(ticker)
        if keys is not None:
            keys.discard((acct.address, acct.number))
            if not keys:
                del self.holders[ticker]
