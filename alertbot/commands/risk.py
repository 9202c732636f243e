"""`alertbot risk`: positions, liquidation prices and a cross-margin stress test, from REST once."""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from collections.abc import Mapping
from typing import Any

from alertbot.commands.args import config_arg
from alertbot.config import Config
from alertbot.config_load import load_config
from alertbot.core.errors import AlertbotError
from alertbot.source.accounts import Account
from alertbot.source.normalize import Normalizer
from alertbot.source.rest import IndexerRest, RestError
from alertbot.source.risk import Leg, leg_risk, liquidatable, margin_ratio, moved, totals
from alertbot.source.riskview import ISOLATED_FROM, coverage, legs

_MOVE = re.compile(r"^\s*([A-Za-z0-9.]+-[A-Za-z0-9.]+)\s*=\s*([+-]?\d+(?:\.\d+)?)\s*%\s*$")


def register(subparsers: Any) -> None:
    """Add `risk` to the CLI's subparsers."""
    risk = subparsers.add_parser(
        "risk", help="liquidation prices and a what-if price move, from REST once"
    )
    config_arg(risk)
    risk.add_argument(
        "--move",
        action="append",
        default=[],
        metavar="TICKER=N%",
        help="move an oracle price before re-checking, e.g. BTC-USD=-10%% (repeatable)",
    )
    risk.set_defaults(handler=cmd_risk)


def parse_move(text: str) -> tuple[str, float]:
    """`BTC-USD=-10%` -> ("BTC-USD", -0.10); anything else is a clear error."""
    found = _MOVE.match(text)
    if found is None:
        raise AlertbotError(
            f"--move {text!r}: expected TICKER=N% such as BTC-USD=-10% or ETH-USD=+5%"
        )
    pct = float(found.group(2))
    if pct <= -100.0:
        raise AlertbotError(f"--move {text!r}: a price cannot fall by 100% or more")
    return found.group(1).upper(), pct / 100.0


def parse_moves(items: list[str]) -> dict[str, float]:
    """Every --move, each ticker at most once."""
    out: dict[str, float] = {}
    for item in items:
        ticker, move = parse_move(item)
        if ticker in out:
            raise AlertbotError(f"--move: {ticker} is given twice")
        out[ticker] = move
    return out


def cmd_risk(args: argparse.Namespace) -> int:
    """alertbot risk."""
    moves = parse_moves(args.move)  # bad input fails before any network call
    config = load_config(args.config)
    normalizer = asyncio.run(fetch(config))
    unknown = sorted(t for t in moves if normalizer.markets.get(t) is None)
    if unknown:
        raise AlertbotError(f"--move: no market {', '.join(unknown)} on the Indexer")
    print("\n".join(report(normalizer, moves, time.time())))
    return 0


async def fetch(config: Config, now: float | None = None) -> Normalizer:
    """Markets, then each watched (parent) subaccount with its orders, fed to a normalizer."""
    now = time.time() if now is None else now
    normalizer = Normalizer()
    rest = IndexerRest(config.source.urls()[1])
    try:
        normalizer.rest_markets(await rest.markets(), now)
        for ref in config.source.subaccounts:
            body = await rest.subaccount(ref)
            normalizer.rest_subaccount(ref.address, ref.number, body, now)
            normalizer.rest_orders(ref.address, ref.number, await rest.orders(ref), now)
        for ref in config.source.parent_subaccounts:
            body = dict(await rest.parent_subaccount(ref))
            body["orders"] = await rest.parent_orders(ref)
            normalizer.rest_parent_subaccount(ref.address, ref.number, body, now)
    except RestError as exc:
        raise AlertbotError(f"cannot read the Indexer: {exc}") from None
    finally:
        await rest.close()
    return normalizer


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}%"


def report(normalizer: Normalizer, moves: Mapping[str, float], now: float) -> list[str]:
    """The printed lines: every account, its positions, then the accounts under the moves."""
    accounts = sorted(normalizer.subs.accounts.by_key.values(), key=lambda a: (a.address, a.number))
    lines: list[str] = []
    for acct in accounts:
        lines += _account(normalizer, acct, now)
    if moves:
        what = ", ".join(f"{t} {m * 100:+.2f}%" for t, m in moves.items())
        lines += ["", f"if {what}:"]
        for acct in accounts:
            lines += _stressed(normalizer, acct, moves)
    return lines or ["no watched subaccounts"]


def _account(normalizer: Normalizer, acct: Account, now: float) -> list[str]:
    pairs = legs(acct, normalizer.markets)
    total = totals(acct.usdc + acct.adjust, (leg for _, leg in pairs))
    mode = "isolated" if acct.number >= ISOLATED_FROM else "cross"
    lines = [
        f"{acct.address}/{acct.number} ({mode}): equity {_money(total.equity)}"
        f"  maintenance {_money(total.mmr)}  initial {_money(total.imr)}"
        f"  margin ratio {margin_ratio(total.mmr, total.equity):.3f}"
    ]
    if not pairs:
        lines.append("  no open positions")
    orders = normalizer.subs.orders
    for pos, leg in pairs:
        risk = leg_risk(leg, total)
        stops = orders.protecting(acct.address, acct.number, pos.ticker)
        cover = coverage(leg.size, risk.liquidation_price, stops, now)
        lines.append(
            f"  {_leg(pos.side, leg)}  liquidation {_money(risk.liquidation_price)}"
            f"  distance {_pct(risk.distance_pct)} ({_money(risk.distance_usd)} USD)"
            f"  stop {cover['stop_status']}"
        )
    return lines


def _leg(side: str, leg: Leg) -> str:
    return f"{leg.ticker} {side} {abs(leg.size):g} @ {_money(leg.price)}"


def _stressed(normalizer: Normalizer, acct: Account, moves: Mapping[str, float]) -> list[str]:
    pairs = legs(acct, normalizer.markets)
    if not pairs:
        return []
    after = moved((leg for _, leg in pairs), moves)
    total = totals(acct.usdc + acct.adjust, after)
    verdict = "LIQUIDATED" if liquidatable(total) else "safe"
    lines = [
        f"{acct.address}/{acct.number}: {verdict}  equity {_money(total.equity)}"
        f"  maintenance {_money(total.mmr)}"
    ]
    for (pos, _), leg in zip(pairs, after, strict=True):
        risk = leg_risk(leg, total)
        lines.append(
            f"  {_leg(pos.side, leg)}  liquidation {_money(risk.liquidation_price)}"
            f"  distance {_pct(risk.distance_pct)}"
        )
    return lines
