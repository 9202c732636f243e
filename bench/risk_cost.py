"""Cost of the risk recomputation per oracle update, through the normalizer (no network).

Two books: one subaccount with 10 positions (10 markets, one of them moving), and 1,000 watched
subaccounts each holding the moving market (plus one other). For each, the time of one
`oraclePrices` update through `Normalizer.update` is measured with the risk events on, and with
them switched off (the `account` events alone, as before this feature); medians of several runs.

    .venv/bin/python bench/risk_cost.py [--updates 2000] [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alertbot.source.normalize import Normalizer

ADDR = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"
TICKERS = [f"M{i}-USD" for i in range(10)]


def markets() -> dict[str, Any]:
    return {
        "markets": {
            t: {
                "ticker": t,
                "oraclePrice": str(100.0 * (i + 1)),
                "initialMarginFraction": "0.05",
                "maintenanceMarginFraction": "0.03",
                "nextFundingRate": "0.00001",
                "openInterest": "1000",
                "openInterestLowerCap": "1000000",
                "openInterestUpperCap": "5000000",
            }
            for i, t in enumerate(TICKERS)
        }
    }


def subaccount(number: int, tickers: list[str]) -> dict[str, Any]:
    positions = {
        t: {
            "market": t,
            "status": "OPEN",
            "side": "LONG" if i % 2 == 0 else "SHORT",
            "size": "1" if i % 2 == 0 else "-1",
            "entryPrice": "100",
            "unrealizedPnl": "0",
            "netFunding": "0",
        }
        for i, t in enumerate(tickers)
    }
    return {
        "subaccount": {
            "address": ADDR,
            "subaccountNumber": number,
            "equity": "5000",
            "freeCollateral": "4000",
            "openPerpetualPositions": positions,
            "assetPositions": {"USDC": {"symbol": "USDC", "side": "LONG", "size": "5000"}},
        },
        "orders": [],
    }


def book(accounts: int, positions: int) -> Normalizer:
    n = Normalizer()
    n.snapshot("v4_markets", None, markets(), 0.0, 0)
    for number in range(accounts):
        n.snapshot(
            "v4_subaccounts", f"{ADDR}/{number}", subaccount(number, TICKERS[:positions]), 0.0, 0
        )
    return n


def timed(n: Normalizer, updates: int) -> tuple[float, int]:
    """Seconds per oracle update of M0-USD, and events per update."""
    events = 0
    start = time.perf_counter()
    for i in range(updates):
        price = "100.5" if i % 2 else "99.5"
        out = n.update(
            "v4_markets", None, {"oraclePrices": {"M0-USD": {"oraclePrice": price}}}, i, 0
        )
        events += len(out)
    return (time.perf_counter() - start) / updates, events // updates


def no_risk(*_: Any) -> None:
    """Stand-in for Subaccounts.risk_events: the account events only (the old behaviour)."""


def measure(accounts: int, positions: int, updates: int, runs: int) -> None:
    on, off = [], []
    n_on, n_off = book(accounts, positions), book(accounts, positions)
    n_off.subs.risk_events = no_risk  # type: ignore[method-assign]
    for _ in range(runs):  # alternate, so drift hits both alike
        t, ev_on = timed(n_on, updates)
        on.append(t)
        t, ev_off = timed(n_off, updates)
        off.append(t)
    m_on, m_off = statistics.median(on) * 1e6, statistics.median(off) * 1e6
    print(
        f"{accounts:>5} subaccount(s) x {positions:>2} position(s): "
        f"{m_off:9.1f} us/update without risk ({ev_off} events), "
        f"{m_on:9.1f} us with ({ev_on} events): risk adds {m_on - m_off:8.1f} us "
        f"({(m_on - m_off) / max(accounts, 1):.2f} us per subaccount)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    measure(1, 10, args.updates, args.runs)
    measure(1000, 2, max(args.updates // 100, 5), args.runs)


if __name__ == "__main__":
    main()
