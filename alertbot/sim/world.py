"""Build the simulated exchange a scenario describes (markets, accounts, positions, orders)."""

from __future__ import annotations

from alertbot.sim.fmt import event_id, iso, num, quantize
from alertbot.sim.model import Market
from alertbot.sim.scenario import Scenario
from alertbot.sim.state import Exchange

SEED_TRADES = 3  # trades on each market's tape at start, so the trades snapshot is not empty


def build_exchange(scenario: Scenario) -> tuple[Exchange, dict[str, str]]:
    """The exchange at time zero, plus the scenario's order refs mapped to order ids."""
    exchange = Exchange(scenario.start_height)
    for index, (ticker, spec) in enumerate(scenario.markets.items()):
        clob = index if spec.clob_pair_id is None else spec.clob_pair_id
        market = Market(
            ticker=ticker,
            market_id=clob,
            clob_pair_id=clob,
            oracle_price=spec.oracle_price,
            initial_margin_fraction=spec.initial_margin_fraction,
            maintenance_margin_fraction=spec.maintenance_margin_fraction,
            atomic_resolution=spec.atomic_resolution,
            tick_size=spec.tick_size,
            step_size=spec.step_size,
            next_funding_rate=spec.next_funding_rate,
        )
        exchange.add_market(market)
        _seed_tape(market, exchange.height, exchange.block_time)
    refs: dict[str, str] = {}
    for key, account in scenario.accounts.items():
        exchange.add_account(key, account.usdc)
        for ticker, pos in account.positions.items():
            if pos.size:
                exchange.open_position(key, ticker, pos.size, pos.entry_price)
        for spec_order in account.orders:
            order, _ = exchange.place_order(
                key, spec_order.ticker, spec_order.side, spec_order.size, spec_order.price,
                type=spec_order.type, client_id=spec_order.client_id, status=spec_order.status,
                trigger_price=spec_order.trigger_price, reduce_only=spec_order.reduce_only,
                good_til=spec_order.good_til,
            )  # fmt: skip
            if spec_order.ref is not None:
                refs[spec_order.ref] = order.id
    return exchange, refs


def _seed_tape(market: Market, height: int, now: float) -> None:
    for i in range(SEED_TRADES, 0, -1):
        price = quantize(market.oracle_price * (1 + (i % 2 * 2 - 1) * 0.0001), market.tick_size)
        trade = {
            "id": event_id(height - i, 1, i),
            "side": "BUY" if i % 2 else "SELL",
            "size": num(market.step_size * (i + 2)),
            "price": num(price),
            "type": "LIMIT",
            "createdAt": iso(now - i),
            "createdAtHeight": str(height - i),
        }
        market.trades.insert(0, trade)


def default_scenario() -> Scenario:
    """BTC-USD and ETH-USD with no accounts: what a bare Simulator() serves."""
    return Scenario.model_validate(
        {
            "name": "default",
            "markets": {
                "BTC-USD": {"oracle_price": 60000, "tick_size": 1, "step_size": 0.0001,
                            "atomic_resolution": -10},
                "ETH-USD": {"oracle_price": 3000, "tick_size": 0.1, "step_size": 0.001},
            },
        }
    )  # fmt: skip
