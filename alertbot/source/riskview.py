"""Risk, stop coverage and funding events from the source's own state (pure, no clock).

`RiskTracker` turns an account (positions, USDC), the markets (oracle, margin fractions, open
interest caps, funding rate) and the live stops/take-profits into `risk` events, one per open
position, the `risk.parent` aggregate of a parent subaccount and its isolated children,
`stop.*` transitions, and `funding` events when a position's settled funding changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from alertbot.source.accounts import Account, Position, account_price
from alertbot.source.markets import Markets
from alertbot.source.orders import STOP_TYPES, TAKE_PROFIT_TYPES, Orders
from alertbot.source.risk import (
    Leg,
    effective_imf,
    funding_estimate,
    leg_risk,
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


def _rows(
    acct: Account, markets: Markets
) -> list[tuple[Position, float, float, float, float, float | None]]:
    """(position, size, price, mmf, effective imf, funding rate) per open position."""
    out: list[tuple[Position, float, float, float, float, float | None]] = []
    for pos in acct.positions.values():
        market = markets.get(pos.ticker)
        if market is None:
            out.append((pos, pos.size, pos.mark, 0.0, 0.0, None))
            continue
        price = market.oracle_price
        if price is None:
            price = pos.mark
        imf = market.imf or 0.0
        if market.oi_upper_cap:
            imf = effective_imf(
                imf, market.open_interest, price, market.oi_lower_cap, market.oi_upper_cap
            )
        out.append((pos, pos.size, price, market.mmf or 0.0, imf, market.next_funding_rate))
    return out


def _epoch(value: str | None) -> float | None:
    """goodTilBlockTime (ISO 8601, Z) as epoch seconds; None when absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class Cover(NamedTuple):
    """What a position's live protective orders amount to, for one closing side."""

    trigger: float | None  # the stop that fires first
    size: float  # remaining size of the covering stops
    stop_expiry: float | None  # epoch of the earliest covering stop's expiry
    tp_expiry: float | None  # the same for take-profits


def summarize(long: bool, orders: Iterable[dict[str, Any]]) -> Cover:
    """Reduce-only stops and take-profits on the closing side that are still working."""
    closing = "SELL" if long else "BUY"
    triggers: list[float] = []
    size = 0.0
    stop_times: list[float] = []
    tp_times: list[float] = []
    for fields in orders:
        if not fields["reduce_only"] or fields["side"] != closing:
            continue
        if fields["status"] not in _WORKING or fields["trigger_price"] is None:
            continue
        expiry = _epoch(fields["good_til_block_time"])
        if fields["type"] in STOP_TYPES:
            triggers.append(fields["trigger_price"])
            size += fields["remaining"] or fields["size"] or 0.0
            if expiry is not None:
                stop_times.append(expiry)
        elif fields["type"] in TAKE_PROFIT_TYPES and expiry is not None:
            tp_times.append(expiry)
    # the stop that fires first: the highest for a long, the lowest for a short
    trigger = (max(triggers) if long else min(triggers)) if triggers else None
    return Cover(
        trigger, size, min(stop_times) if stop_times else None, min(tp_times) if tp_times else None
    )


def cover_fields(cover: Cover, long: bool, liq: float | None, now: float) -> dict[str, Any]:
    """The stop fields of a `risk` event: status against the liquidation price, expiries."""
    trigger = cover.trigger
    status = "missing" if trigger is None else "ok"
    if trigger is not None and liq is not None and (trigger <= liq if long else trigger >= liq):
        status = "unsafe"
    return {
        "stop_status": status,
        "stop_trigger_price": trigger,
        "stop_size": cover.size,
        "stop_expires_in": None if cover.stop_expiry is None else cover.stop_expiry - now,
        "take_profit_expires_in": None if cover.tp_expiry is None else cover.tp_expiry - now,
    }


def coverage(
    size: float, liq: float | None, orders: list[dict[str, Any]], now: float
) -> dict[str, Any]:
    """Stop coverage of a position from its live reduce-only stops and take-profits."""
    return cover_fields(summarize(size > 0, orders), size > 0, liq, now)


_UNCOVERED: dict[str, Any] = {
    "stop_status": "missing",
    "stop_trigger_price": None,
    "stop_size": 0.0,
    "stop_expires_in": None,
    "take_profit_expires_in": None,
}


class RiskTracker:
    """Builds risk events and remembers what stop and funding alerts need between them."""

    def __init__(self, markets: Markets, orders: Orders) -> None:
        self.markets = markets
        self.orders = orders
        self.stop_state: dict[StopKey, str] = {}
        self.last_payment: dict[StopKey, float] = {}
        self._covers: dict[tuple[StopKey, bool], tuple[int, Cover]] = {}

    def _cover(self, key: StopKey, long: bool) -> Cover | None:
        """The position's Cover, recomputed only when its protective orders changed."""
        found = self.orders.protective.get(key)
        if not found:
            return None
        version = self.orders.protective_version.get(key, 0)
        cached = self._covers.get((key, long))
        if cached is not None and cached[0] == version:
            return cached[1]
        cover = summarize(long, found.values())
        self._covers[(key, long)] = (version, cover)
        return cover

    def account(self, acct: Account, now: float, origin: str) -> list[Event]:
        """One `risk` event per open position, then any `stop.*` transition.

        This runs for every holder on every oracle price, so it is `risk.py`'s math inlined
        (one pass for the totals, one per position; tests/source/test_risk_events.py checks it
        against the reference functions): the shared fields are built once, and a position
        without stops skips the coverage scan.
        """
        rows = _rows(acct, self.markets)
        equity = acct.usdc + acct.adjust
        mmr = imr = 0.0
        for _, size, price, mmf, imf, _ in rows:
            notional = abs(size) * price
            equity += size * price
            mmr += notional * mmf
            imr += notional * imf
        shared = {
            "address": acct.address,
            "subaccount": acct.number,
            "parent_subaccount": acct.parent,
            "margin_mode": "isolated" if acct.number >= ISOLATED_FROM else "cross",
            "equity": equity,
            "account_maintenance_requirement": mmr,
            "account_initial_requirement": imr,
            "margin_ratio": margin_ratio(mmr, equity),
            "liquidatable": mmr > 0.0 and equity < mmr,
            "origin": origin,
        }
        stop_state = self.stop_state
        out: list[Event] = []
        for pos, size, price, mmf, imf, rate in rows:
            notional = abs(size) * price
            own = notional * mmf
            liq: float | None = None
            if size:
                liq = (mmr - own + size * price - equity) / (
                    size * (1.0 - mmf if size > 0 else 1.0 + mmf)
                )
                if liq <= 0.0:
                    liq = None
            pct = usd = None
            if size and price > 0.0:
                usd = price - (liq or 0.0) if size > 0 else (liq or 0.0) - price
                pct = usd / price * 100.0
            estimate = None if rate is None else -size * price * rate
            key = (acct.address, acct.number, pos.ticker)
            cover = self._cover(key, size > 0)
            fields = _UNCOVERED if cover is None else cover_fields(cover, size > 0, liq, now)
            data = {
                **shared,
                "ticker": pos.ticker,
                "side": pos.side,
                "size": size,
                "oracle_price": price,
                "entry_price": pos.entry_price,
                "liquidation_price": liq,
                "liquidation_distance_pct": pct,
                "liquidation_distance_usd": usd,
                "maintenance_requirement": own,
                "initial_requirement": notional * imf,
                "initial_margin_fraction": imf,
                "maintenance_margin_fraction": mmf,
                **fields,
                "funding_rate": rate,
                "funding_next": estimate,
                "funding_per_day": None if estimate is None else estimate * 24.0,
                "net_funding": pos.net_funding,
            }
            out.append(("risk", data))
            if stop_state.get(key) != fields["stop_status"]:
                self._stop_change(key, data, out)
        return out

    def _stop_change(self, key: StopKey, data: dict[str, Any], out: list[Event]) -> None:
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
        self._covers.pop((key, True), None)
        self._covers.pop((key, False), None)

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
