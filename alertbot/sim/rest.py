"""The Indexer REST API (comlink) over the simulated exchange, and the WS snapshots from it."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from alertbot.sim import views
from alertbot.sim.fmt import iso, num
from alertbot.sim.ledger import current_candle, equity
from alertbot.sim.model import CANDLE_SECONDS, Account
from alertbot.sim.state import Exchange

COMPLIANCE_BLOCKED = (
    "Because this address appears to be a resident of, or trading from, a jurisdiction that "
    "violates our terms of use, or has engaged in activity that violates our terms of use, "
    "this address has been blocked."
)
SNAPSHOT_STATUSES = ("OPEN", "UNTRIGGERED", "BEST_EFFORT_OPENED")
MAX_SUBACCOUNT = 128_000
MAX_PARENT = 127
CHILD_STRIDE = 128
DEFAULT_LIMIT = 1000
_ALNUM = re.compile(r"^[A-Za-z0-9]{1,90}$")
Query = dict[str, list[str]]


class RestError(Exception):
    """An HTTP error status with the Indexer's `{"errors":[...]}` body."""

    def __init__(self, status: int, msg: str, **extra: Any) -> None:
        super().__init__(msg)
        self.status = status
        self.body = {"errors": [{"msg": msg, **extra}]}


def _invalid(field: str, value: Any, msg: str, location: str = "query") -> RestError:
    err = RestError(400, msg)
    err.body = {
        "errors": [
            {"type": "field", "value": value, "msg": msg, "path": field, "location": location}
        ]
    }
    return err


def check_address(address: str, blocked: set[str], location: str = "params") -> None:
    """Express-validator's rule (≤90 alphanumerics), then the compliance check."""
    if not _ALNUM.match(address):
        raise _invalid("address", address, "address must be a valid dydx address", location)
    if address in blocked:
        raise RestError(403, COMPLIANCE_BLOCKED, code="COMPLIANCE_BLOCKED")


def _int(field: str, text: str | None, high: int, location: str = "query") -> int:
    if text is None or not text.isdigit() or int(text) > high:
        msg = f"{field} must be a non-negative integer less than {high + 1}"
        raise _invalid(field, text, msg, location)
    return int(text)


def _one(query: Query, key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


def _statuses(query: Query) -> set[str] | None:
    raw = [s for v in query.get("status", []) for s in v.split(",") if s]
    return set(raw) or None


# --- subaccounts ------------------------------------------------------------------------------
def subaccount_json(ex: Exchange, account: Account) -> dict[str, Any]:
    """SubaccountResponseObject: equity, free collateral, open positions, USDC."""
    eq, free = equity(account, ex.markets)
    positions = {
        t: views.position_rest_json(p, account, ex.markets[t].oracle_price)
        for t, p in account.positions.items()
    }
    assets = {"USDC": views.usdc_rest_json(account)} if account.usdc else {}
    ex.reported = max(ex.reported, ex.height)  # what happens next is in a later block
    return {
        "address": account.address,
        "subaccountNumber": account.number,
        "equity": num(eq),
        "freeCollateral": num(free),
        "openPerpetualPositions": positions,
        "assetPositions": assets,
        "marginEnabled": True,
        "updatedAtHeight": str(account.updated_at_height),
        "latestProcessedBlockHeight": str(ex.height),
    }


def subaccount(ex: Exchange, address: str, number: int) -> dict[str, Any]:
    """GET /addresses/{a}/subaccountNumber/{n}."""
    account = ex.accounts.get(f"{address}/{number}")
    if account is None:
        msg = f"No subaccount found with address {address} and subaccountNumber {number}"
        raise RestError(404, msg)
    return {"subaccount": subaccount_json(ex, account)}


def children(ex: Exchange, address: str, parent: int) -> list[Account]:
    """Subaccounts n of `address` with n % 128 == parent, in number order."""
    found = [a for a in ex.accounts.values() if a.address == address]
    return sorted((a for a in found if a.number % CHILD_STRIDE == parent), key=lambda a: a.number)


def parent_subaccount(ex: Exchange, address: str, parent: int) -> dict[str, Any]:
    """GET /addresses/{a}/parentSubaccountNumber/{p}: sums over the children."""
    kids = children(ex, address, parent)
    if not kids:
        msg = f"No subaccount found with address {address} and parentSubaccountNumber {parent}"
        raise RestError(404, msg)
    totals = [equity(a, ex.markets) for a in kids]
    return {
        "subaccount": {
            "address": address,
            "parentSubaccountNumber": parent,
            "equity": num(sum(t[0] for t in totals)),
            "freeCollateral": num(sum(t[1] for t in totals)),
            "childSubaccounts": [subaccount_json(ex, a) for a in kids],
        }
    }


def orders_of(ex: Exchange, accounts: list[Account], statuses: set[str] | None) -> list[Any]:
    """OrderResponseObjects of the given subaccounts, newest first."""
    keys = {a.key: a for a in accounts}
    rows = [o for o in reversed(ex.orders.values()) if o.account in keys]
    rows = [o for o in rows if statuses is None or o.status in statuses]
    return [views.order_row_json(o, keys[o.account], ex.markets[o.ticker], rest=True) for o in rows]


def snapshot_orders(ex: Exchange, accounts: list[Account]) -> list[Any]:
    """Open orders plus BEST_EFFORT_CANCELED ones from the last 20 blocks, as socks merges them."""
    live = orders_of(ex, accounts, set(SNAPSHOT_STATUSES))
    recent = orders_of(ex, accounts, {"BEST_EFFORT_CANCELED"})
    floor = max(ex.height - 20, 1)
    return live + [o for o in recent if int(o.get("goodTilBlock", "0")) > floor]


# --- WS snapshots -----------------------------------------------------------------------------
def subaccount_snapshot(ex: Exchange, sub_id: str, blocked: set[str], *, parent: bool) -> Any:
    """`subscribed` contents for v4_subaccounts / v4_parent_subaccounts ({} when unknown)."""
    address, number_text = sub_id.split("/")
    check_address(address, blocked)
    number = _int("subaccountNumber", number_text, MAX_PARENT if parent else MAX_SUBACCOUNT)
    try:
        if parent:
            body = parent_subaccount(ex, address, number)
            accounts = children(ex, address, number)
        else:
            body = subaccount(ex, address, number)
            accounts = [ex.accounts[sub_id]]
    except RestError as exc:
        if exc.status == 404:
            return {}
        raise
    return {**body, "orders": snapshot_orders(ex, accounts), "blockHeight": str(ex.height)}


def channel_snapshot(ex: Exchange, channel: str, sub_id: str, blocked: set[str]) -> Any:
    """The `subscribed` contents of any channel (the REST response socks would fetch)."""
    if channel in ("v4_subaccounts", "v4_parent_subaccounts"):
        return subaccount_snapshot(ex, sub_id, blocked, parent=channel != "v4_subaccounts")
    if channel == "v4_markets":
        return markets(ex, {})
    if channel == "v4_block_height":
        return {"height": str(ex.height), "time": iso(ex.block_time)}
    if channel == "v4_orderbook":
        return orderbook(ex, sub_id)
    if channel == "v4_trades":
        return {"trades": list(ex.markets[sub_id].trades)}
    ticker, resolution = sub_id.split("/")
    return candles(ex, ticker, resolution)


# --- markets ----------------------------------------------------------------------------------
def markets(ex: Exchange, query: Query) -> dict[str, Any]:
    """GET /perpetualMarkets[?ticker=]."""
    ticker = _one(query, "ticker")
    chosen = [m for m in ex.markets.values() if ticker is None or m.ticker == ticker]
    return {"markets": {m.ticker: views.market_json(m) for m in chosen}}


def orderbook(ex: Exchange, ticker: str) -> dict[str, Any]:
    """GET /orderbooks/perpetualMarket/{ticker}: {price,size} objects, best first."""
    market = _market(ex, ticker)
    bids = sorted(market.bids.items(), key=lambda kv: -float(kv[0]))
    asks = sorted(market.asks.items(), key=lambda kv: float(kv[0]))
    return {
        "bids": [{"price": p, "size": s} for p, s in bids],
        "asks": [{"price": p, "size": s} for p, s in asks],
    }


def candles(ex: Exchange, ticker: str, resolution: str | None) -> dict[str, Any]:
    """GET /candles/perpetualMarkets/{ticker}?resolution=: the current candle."""
    market = _market(ex, ticker)
    if resolution not in CANDLE_SECONDS:
        raise _invalid("resolution", resolution, "resolution must be a valid Candle Resolution")
    return {"candles": [dict(current_candle(market, resolution, ex.clock()))]}


def _market(ex: Exchange, ticker: str) -> Any:
    if ticker not in ex.markets:
        raise _invalid("ticker", ticker, "ticker must be a valid ticker", "params")
    return ex.markets[ticker]


# --- routing ----------------------------------------------------------------------------------
def _account_query(ex: Exchange, query: Query, blocked: set[str]) -> Account | None:
    address = _one(query, "address") or ""
    check_address(address, blocked, "query")
    number = _int("subaccountNumber", _one(query, "subaccountNumber"), MAX_SUBACCOUNT)
    return ex.accounts.get(f"{address}/{number}")


def _parent_query(ex: Exchange, query: Query, blocked: set[str]) -> list[Account]:
    address = _one(query, "address") or ""
    check_address(address, blocked, "query")
    parent = _int("parentSubaccountNumber", _one(query, "parentSubaccountNumber"), MAX_PARENT)
    return children(ex, address, parent)


def _listing(ex: Exchange, accounts: list[Account], kind: str, query: Query) -> Any:
    if kind == "orders":
        return orders_of(ex, accounts, _statuses(query))
    if kind == "fills":
        fills = [(f, a) for a in accounts for f in a.fills]
        fills.sort(key=lambda fa: (-fa[0].created_at_height, -fa[0].created_at))
        fills = [fa for fa in fills if fa[0].created_at_height <= _before(query)]
        return {"fills": [views.fill_rest_json(f, a) for f, a in fills[: _limit(query)]]}
    if kind == "transfers":
        moves = [t for a in accounts for t in a.transfers]
        moves.sort(key=lambda t: (-t.created_at_height, -t.created_at))
        moves = [t for t in moves if t.created_at_height <= _before(query)]
        return {"transfers": [views.transfer_rest_json(t) for t in moves[: _limit(query)]]}
    if kind == "assetPositions":
        return {"positions": [views.usdc_rest_json(a) for a in accounts if a.usdc]}
    status = _statuses(query)
    rows = [(p, a) for a in accounts for p in (*a.positions.values(), *a.closed)]
    return {
        "positions": [
            views.position_rest_json(p, a, ex.markets[p.ticker].oracle_price)
            for p, a in rows
            if status is None or p.status in status
        ]
    }


def _limit(query: Query) -> int:
    """`limit` (comlink's API_LIMIT_V4 default and cap: 1000), newest first."""
    raw = _one(query, "limit")
    return DEFAULT_LIMIT if raw is None else min(_int("limit", raw, DEFAULT_LIMIT), DEFAULT_LIMIT)


def _before(query: Query) -> int:
    """`createdBeforeOrAtHeight`: older pages of fills and transfers (inclusive)."""
    raw = _one(query, "createdBeforeOrAtHeight")
    return 2**63 if raw is None else _int("createdBeforeOrAtHeight", raw, 2**63)


_LISTINGS = ("orders", "fills", "transfers", "perpetualPositions", "assetPositions")


def route(ex: Exchange, target: str, blocked: set[str]) -> tuple[int, Any]:
    """Answer one GET under /v4: (HTTP status, JSON body)."""
    split = urlsplit(target)
    parts = [unquote(p) for p in split.path.split("/")[2:] if p]
    query = parse_qs(split.query)
    try:
        return 200, _dispatch(ex, parts, query, blocked)
    except RestError as exc:
        return exc.status, exc.body


def _dispatch(ex: Exchange, parts: list[str], query: Query, blocked: set[str]) -> Any:
    handler = _ROUTES.get((parts[0] if parts else "", len(parts)))
    if handler is None:
        raise RestError(404, f"Cannot GET /v4/{'/'.join(parts)}")
    return handler(ex, parts, query, blocked)


def _r_addresses(ex: Exchange, parts: list[str], q: Query, blocked: set[str]) -> Any:
    address = parts[1]
    check_address(address, blocked)
    if len(parts) == 2:
        accounts = sorted(
            (a for a in ex.accounts.values() if a.address == address), key=lambda a: a.number
        )
        if not accounts:
            raise RestError(404, f"No subaccounts found for address {address}")
        subs = [subaccount_json(ex, a) for a in accounts]
        return {"subaccounts": subs, "totalTradingRewards": "0"}
    if parts[2] == "subaccountNumber":
        return subaccount(ex, address, _int("subaccountNumber", parts[3], MAX_SUBACCOUNT, "params"))
    if parts[2] == "parentSubaccountNumber":
        return parent_subaccount(
            ex, address, _int("parentSubaccountNumber", parts[3], MAX_PARENT, "params")
        )
    raise RestError(404, f"Cannot GET /v4/{'/'.join(parts)}")


def _r_listing(ex: Exchange, parts: list[str], q: Query, blocked: set[str]) -> Any:
    parent = len(parts) == 2 and parts[1] in ("parentSubaccountNumber", "parentSubaccount")
    if len(parts) == 2 and parts[0] == "orders" and not parent:
        order = ex.orders.get(parts[1])
        if order is None:
            raise RestError(404, f"Unable to find order with id: {parts[1]}")
        account = ex.accounts[order.account]
        return views.order_row_json(order, account, ex.markets[order.ticker], rest=True)
    if len(parts) == 2 and not parent:
        raise RestError(404, f"Cannot GET /v4/{'/'.join(parts)}")
    if parent:
        accounts = _parent_query(ex, q, blocked)
    else:
        found = _account_query(ex, q, blocked)
        accounts = [found] if found else []
    return _listing(ex, accounts, parts[0], q)


def _r_market(ex: Exchange, parts: list[str], q: Query, blocked: set[str]) -> Any:
    expected = {"orderbooks": "perpetualMarket", "trades": "perpetualMarket"}
    if len(parts) == 3 and parts[1] != expected.get(parts[0], "perpetualMarkets"):
        raise RestError(404, f"Cannot GET /v4/{'/'.join(parts)}")
    if parts[0] == "perpetualMarkets":
        return markets(ex, q)
    if parts[0] == "orderbooks":
        return orderbook(ex, parts[2])
    if parts[0] == "trades":
        return {"trades": list(_market(ex, parts[2]).trades)}
    return candles(ex, parts[2], _one(q, "resolution"))


def _r_clock(ex: Exchange, parts: list[str], q: Query, blocked: set[str]) -> Any:
    if parts[0] == "height":
        return {"height": str(ex.height), "time": iso(ex.block_time)}
    if parts[0] == "time":
        now = time.time()
        return {"iso": iso(now), "epoch": round(now, 3)}
    account = _account_query(ex, q, blocked)
    if account is None:
        return {"historicalPnl": []}
    eq, _ = equity(account, ex.markets)
    point = {
        "equity": num(eq),
        "totalPnl": num(sum(p.realized_pnl for p in account.positions.values())),
        "netTransfers": "0",
        "createdAt": iso(ex.block_time),
        "blockHeight": str(ex.height),
        "blockTime": iso(ex.block_time),
    }
    return {"historicalPnl": [point]}


Handler = Callable[[Exchange, list[str], Query, set[str]], Any]
_ROUTES: dict[tuple[str, int], Handler] = {
    ("addresses", 2): _r_addresses,
    ("addresses", 4): _r_addresses,
    ("perpetualMarkets", 1): _r_market,
    ("orderbooks", 3): _r_market,
    ("trades", 3): _r_market,
    ("candles", 3): _r_market,
    ("height", 1): _r_clock,
    ("time", 1): _r_clock,
    ("historical-pnl", 1): _r_clock,
    **{(name, n): _r_listing for name in _LISTINGS for n in (1, 2)},
}
