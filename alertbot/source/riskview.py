"""Risk, stop coverage and funding events from the source's own state (pure, no clock).

`RiskTracker` turns an account (positions, USDC), the markets (oracle, margin fractions, open
interest caps, funding rate) and the live stops/take-profits into `risk` events, one per open
position, the `risk.parent` aggregate of a parent subaccount and its isolated children,
`stop.*` transitions, and `funding` events when a position's settled funding changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from alertbot.source.accounts import Account, Position, account_price
from alertbot.source.markets import Markets
from alertbot.source.orders import STOP_TYPES, TAKE_PROFIT_TYPES, Orders
from alertbot.source.risk import (
    Leg,
    Totals,
    effective_imf,
    funding_estimate,
    leg_risk,
    liquidatable,
    margin_ratio,
    totals,
)

Event = tuple[str, dict[str, Any]]
StopKey = tuple[str, int, str]
ISOLATED_FROM = 128  # subaccounts 128 and up are isolated children (parent = n % 128)
_WORKING = frozenset({"UNTRIGGERED", "OPEN", "BEST_EFFORT_OPENED"})


def legs(acct: Account, markets: Markets) -> list[tuple[Position, Leg]]:
    """Each open position with the numbers the margin math needs."""
    out = []
    for pos in acct.positions.values():
        market = markets.get(pos.ticker)
        price = account_price(pos, markets)
        if market is None:
            out.append((pos, Leg(pos.ticker, pos.size, price, 0.0, 0.0)))
            continue
        imf = effective_imf(
            market.imf or 0.0, market.open_interest, price, market.oi_lower_cap, market.oi_upper_cap
        )
        out.append((pos, Leg(pos.ticker, pos.size, price, market.mmf or 0.0, imf)))
    return out


def _epoch(value: str | None) -> float | None:
    """goodTilBlockTime (ISO 8601, Z) as epoch seconds; None when absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def coverage(
    size: float, liq: float | None, orders: list[dict[str, Any]], now: float
) -> dict[str, Any]:
    """Stop coverage of a position from its live reduce-only stops and take-profits."""
    closing = "SELL" if size > 0 else "BUY"
    stops, tps = [], []
    for fields in orders:
        if not fields["reduce_only"] or fields["side"] != closing:
            continue
        if fields["status"] not in _WORKING or fields["trigger_price"] is None:
            continue
        if fields["type"] in STOP_TYPES:
            stops.append(fields)
        elif fields["type"] in TAKE_PROFIT_TYPES:
            tps.append(fields)
    trigger = None
    if stops:  # the stop that fires first: the highest for a long, the lowest for a short
        prices = [f["trigger_price"] for f in stops]
        trigger = max(prices) if size > 0 else min(prices)
    status = "missing" if trigger is None else "ok"
    if trigger is not None and liq is not None and (trigger <= liq if size > 0 else trigger >= liq):
        status = "unsafe"
    return {
        "stop_status": status,
        "stop_trigger_price": trigger,
        "stop_size": sum(f["remaining"] or f["size"] or 0.0 for f in stops),
        "stop_expires_in": _expires_in(stops, now),
        "take_profit_expires_in": _expires_in(tps, now),
    }


def _expires_in(orders: list[dict[str, Any]], now: float) -> float | None:
    times = [t for t in (_epoch(f["good_til_block_time"]) for f in orders) if t is not None]
    return min(times) - now if times else None


class RiskTracker:
    """Builds risk events and remembers what stop and funding alerts need between them."""

    def __init__(self, markets: Markets, orders: Orders) -> None:
        self.markets = markets
        self.orders = orders
        self.stop_state: dict[StopKey, str] = {}
        self.last_payment: dict[StopKey, float] = {}

    def account(self, acct: Account, now: float, origin: str) -> list[Event]:
        """One `risk` event per open position, then any `stop.*` transition."""
        pairs = legs(acct, self.markets)
        total = totals(acct.usdc + acct.adjust, (leg for _, leg in pairs))
        out: list[Event] = []
        for pos, leg in pairs:
            data = self._position(acct, pos, leg, total, now, origin)
            out.append(("risk", data))
            self._stop_change(data, out)
        return out

    def _position(
        self, acct: Account, pos: Position, leg: Leg, total: Totals, now: float, origin: str
    ) -> dict[str, Any]:
        risk = leg_risk(leg, total)
        market = self.markets.get(pos.ticker)
        rate = None if market is None else market.next_funding_rate
        estimate = funding_estimate(leg.size, leg.price, rate)
        protecting = self.orders.protecting(acct.address, acct.number, pos.ticker)
        return {
            "address": acct.address,
            "subaccount": acct.number,
            "parent_subaccount": acct.parent,
            "margin_mode": "isolated" if acct.number >= ISOLATED_FROM else "cross",
            "ticker": pos.ticker,
            "side": pos.side,
            "size": pos.size,
            "oracle_price": leg.price,
            "entry_price": pos.entry_price,
            "liquidation_price": risk.liquidation_price,
            "liquidation_distance_pct": risk.distance_pct,
            "liquidation_distance_usd": risk.distance_usd,
            "maintenance_requirement": risk.maintenance,
            "initial_requirement": risk.initial,
            "initial_margin_fraction": leg.imf,
            "maintenance_margin_fraction": leg.mmf,
            "equity": total.equity,
            "account_maintenance_requirement": total.mmr,
            "account_initial_requirement": total.imr,
            "margin_ratio": margin_ratio(total.mmr, total.equity),
            "liquidatable": liquidatable(total),
            **coverage(leg.size, risk.liquidation_price, protecting, now),
            "funding_rate": rate,
            "funding_next": estimate,
            "funding_per_day": None if estimate is None else estimate * 24.0,
            "net_funding": pos.net_funding,
            "origin": origin,
        }

    def _stop_change(self, data: dict[str, Any], out: list[Event]) -> None:
        key = (data["address"], data["subaccount"], data["ticker"])
        status = data["stop_status"]
        before = self.stop_state.get(key)
        if before == status:
            return
        self.stop_state[key] = status
        if before is None and status == "ok":
            return  # a covered position seen for the first time is not news
        out.append((f"stop.{status}", {**_pick(data, _STOP_FIELDS), "previous": before}))

    def closed(self, acct: Account, ticker: str) -> None:
        """Forget a closed position's stop and funding memory."""
        key = (acct.address, acct.number, ticker)
        self.stop_state.pop(key, None)
        self.last_payment.pop(key, None)

    def funding(
        self, acct: Account, old: Position | None, new: Position, now: float
    ) -> Event | None:
        """A `funding` event when settled funding changed between two sights of a position."""
        del now
        if old is None or old.net_funding is None or new.net_funding is None:
            return None
        payment = new.net_funding - old.net_funding
        if payment == 0.0:
            return None
        key = (acct.address, acct.number, new.ticker)
        previous = self.last_payment.get(key)
        self.last_payment[key] = payment
        market = self.markets.get(new.ticker)
        rate = None if market is None else market.next_funding_rate
        size = new.size if new.size else old.size
        price = account_price(new, self.markets)
        return (
            "funding",
            {
                "address": acct.address,
                "subaccount": acct.number,
                "ticker": new.ticker,
                "side": old.side if not new.size else new.side,
                "size": size,
                "payment": payment,
                "cost": -payment,
                "previous_payment": previous,
                "sign_flip": previous is not None and (previous > 0.0) != (payment > 0.0),
                "net_funding": new.net_funding,
                "oracle_price": price,
                "funding_rate": rate,
                "funding_next": funding_estimate(size, price, rate),
            },
        )

    def parents(self, family: Iterable[Account], address: str, parent: int) -> Event:
        """The `risk.parent` aggregate: total equity and the nearest liquidation."""
        equity = mmr = 0.0
        positions = 0
        nearest: tuple[float, int, str, float | None] | None = None
        for acct in family:
            pairs = legs(acct, self.markets)
            total = totals(acct.usdc + acct.adjust, (leg for _, leg in pairs))
            equity += total.equity
            mmr += total.mmr
            positions += len(pairs)
            for _, leg in pairs:
                risk = leg_risk(leg, total)
                pct = risk.distance_pct
                if pct is not None and (nearest is None or pct < nearest[0]):
                    nearest = (pct, acct.number, leg.ticker, risk.liquidation_price)
        return (
            "risk.parent",
            {
                "address": address,
                "parent_subaccount": parent,
                "equity": equity,
                "maintenance_requirement": mmr,
                "position_count": positions,
                "liquidation_distance_pct": None if nearest is None else nearest[0],
                "nearest_subaccount": None if nearest is None else nearest[1],
                "nearest_ticker": None if nearest is None else nearest[2],
                "liquidation_price": None if nearest is None else nearest[3],
            },
        )


_STOP_FIELDS = (
    "address",
    "subaccount",
    "ticker",
    "side",
    "size",
    "oracle_price",
    "liquidation_price",
    "liquidation_distance_pct",
    "stop_status",
    "stop_trigger_price",
    "stop_size",
)


def _pick(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: data[k] for k in keys}
