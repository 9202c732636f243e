"""Margin math for one margin account (a cross subaccount or an isolated child), pure.

The definitions are the issue's and docs/risk.md's, checked against the chain
(v4-chain `protocol/x/perpetuals/types/liquidity_tier.go`) and the front end
(v4-web `src/bonsai/calculators/subaccount.ts`, `markets.ts`):

    E   = USDC + sum(size_i * oracle_i)              (signed sizes)
    MMR = sum(|size_i| * oracle_i * mmf_i)
    liquidatable when MMR > 0 and E < MMR
    liquidation price of leg j, the other legs' prices held fixed:
        p = (MMR_others + size_j * oracle_j - E) / (size_j * (1 - mmf_j))   long
        p = (MMR_others + size_j * oracle_j - E) / (size_j * (1 + mmf_j))   short
    and none when p is not positive.

No I/O, no clock, no alertbot imports: the source, the `risk` command and the benches share it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

RATIO_CAP = 1000.0  # margin_ratio when equity <= 0 with a requirement (finite, JSON-safe)


class Leg(NamedTuple):
    """One position as the math needs it: signed size, oracle price, effective fractions."""

    ticker: str
    size: float
    price: float
    mmf: float
    imf: float


class Totals(NamedTuple):
    """Equity, maintenance and initial requirement, and gross notional of a margin account."""

    equity: float
    mmr: float
    imr: float
    notional: float


class LegRisk(NamedTuple):
    """One leg's liquidation price, distance to it and its own requirements."""

    liquidation_price: float | None
    distance_pct: float | None
    distance_usd: float | None
    maintenance: float
    initial: float


def effective_imf(
    imf: float,
    open_interest: float | None,
    price: float | None,
    lower_cap: float | None,
    upper_cap: float | None,
) -> float:
    """The open-interest-scaled initial margin fraction (chain: GetAdjustedInitialMarginPpm).

    Caps are USDC; open notional = open interest (base units) x oracle. Base IMF at or below
    the lower cap, 1.0 at or above the upper cap, linear between; an upper cap of 0 (or any
    unknown input) disables scaling.
    """
    if not upper_cap or open_interest is None or price is None or lower_cap is None:
        return imf
    notional = open_interest * price
    if notional <= lower_cap:
        return imf
    if notional >= upper_cap or upper_cap <= lower_cap:
        return 1.0
    return imf + (1.0 - imf) * (notional - lower_cap) / (upper_cap - lower_cap)


def totals(usdc: float, legs: Iterable[Leg]) -> Totals:
    """E, MMR, IMR and gross notional of one margin account."""
    equity, mmr, imr, gross = usdc, 0.0, 0.0, 0.0
    for leg in legs:
        notional = abs(leg.size) * leg.price
        equity += leg.size * leg.price
        mmr += notional * leg.mmf
        imr += notional * leg.imf
        gross += notional
    return Totals(equity, mmr, imr, gross)


def liquidation_price(leg: Leg, equity: float, mmr: float) -> float | None:
    """The oracle price of `leg` at which E = MMR, others fixed; None when not positive."""
    if leg.size == 0.0:
        return None
    own = abs(leg.size) * leg.price * leg.mmf
    factor = 1.0 - leg.mmf if leg.size > 0 else 1.0 + leg.mmf
    denominator = leg.size * factor
    if denominator == 0.0:
        return None
    price = (mmr - own + leg.size * leg.price - equity) / denominator
    return price if price > 0.0 else None


def distance(leg: Leg, liq: float | None) -> tuple[float | None, float | None]:
    """How far the oracle may move against the leg before liquidation: % of oracle and USD.

    Positive while safe, negative once past (the account is liquidatable). With no positive
    liquidation price the distance is measured to 0, so rules always get a number: a long
    then shows 100 % (no price of its own can liquidate it), a short -100 % (the account is
    liquidatable at any price of this market).
    """
    if leg.size == 0.0 or leg.price <= 0.0:
        return None, None
    target = 0.0 if liq is None else liq
    usd = leg.price - target if leg.size > 0 else target - leg.price
    return usd / leg.price * 100.0, usd


def leg_risk(leg: Leg, total: Totals) -> LegRisk:
    """Everything per leg the `risk` event reports."""
    liq = liquidation_price(leg, total.equity, total.mmr)
    pct, usd = distance(leg, liq)
    notional = abs(leg.size) * leg.price
    return LegRisk(liq, pct, usd, notional * leg.mmf, notional * leg.imf)


def margin_ratio(mmr: float, equity: float) -> float:
    """MMR / E: 0 with no requirement, 1 or more means liquidatable; capped at RATIO_CAP."""
    if mmr <= 0.0:
        return 0.0
    if equity <= 0.0:
        return RATIO_CAP
    return min(mmr / equity, RATIO_CAP)


def liquidatable(total: Totals) -> bool:
    """The chain's rule: a requirement and equity below it."""
    return total.mmr > 0.0 and total.equity < total.mmr


def moved(legs: Iterable[Leg], moves: Mapping[str, float]) -> list[Leg]:
    """The legs with prices scaled by 1 + move (a move of -0.10 is a 10% fall)."""
    return [leg._replace(price=leg.price * (1.0 + moves.get(leg.ticker, 0.0))) for leg in legs]


def funding_estimate(size: float, price: float, rate: float | None) -> float | None:
    """The next hourly payment to the account (negative = cost): longs pay a positive rate."""
    if rate is None:
        return None
    return -size * price * rate
