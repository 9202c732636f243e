"""The exchange's bookkeeping without sockets: numbers, netting, and every packaged timeline."""

from __future__ import annotations

import pytest

from alertbot.sim import SimSettings, Simulator, load_scenario
from alertbot.sim.fmt import event_id, num
from alertbot.sim.ledger import apply_trade
from alertbot.sim.model import Account
from alertbot.sim.player import cues, run_cue
from alertbot.sim.scenario import packaged_names

ACCOUNT = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art/0"
BASIC = "dydx199tqg4wdlnu4qjlxchpd7seg454937hjrknju4/0"


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.1 + 0.2, "0.3"), (1e-7, "0.0000001"), (-0.0, "0"), (1e20, "100000000000000000000"),
     (60000.0, "60000"), (-5399.0599, "-5399.0599"), (3, "3")],
)  # fmt: skip
def test_numbers_are_plain_decimal_strings(value, text):
    assert num(value) == text


def test_event_ids_start_with_the_block_height():
    assert event_id(21104335, 2, 14) == "014206cf000000020000000e"


def test_netting_opens_adds_reduces_and_flips():
    account = Account("dydx1x", 0, 0.0, 1)
    at = (0.0, 1)
    apply_trade(account, "BTC-USD", 1.0, 100.0, at)
    apply_trade(account, "BTC-USD", 1.0, 200.0, at)
    pos = account.positions["BTC-USD"]
    assert (pos.size, pos.entry_price, pos.max_size) == (2.0, 150.0, 2.0)
    apply_trade(account, "BTC-USD", -0.5, 250.0, at)
    assert (pos.size, pos.realized_pnl, pos.exit_price) == (1.5, 50.0, 250.0)
    touched = apply_trade(account, "BTC-USD", -2.5, 100.0, at)
    closed, flipped = touched
    assert (closed.status, closed.size, closed.realized_pnl) == ("CLOSED", 0.0, -25.0)
    assert (flipped.side, flipped.size, flipped.entry_price) == ("SHORT", -1.0, 100.0)
    assert flipped.position_id != closed.position_id
    assert account.positions == {"BTC-USD": flipped}
    assert account.closed == [closed]


def test_controls_reject_nonsense():
    sim = Simulator(load_scenario("basic"), SimSettings(block_interval=0))
    with pytest.raises(KeyError, match="unknown market"):
        sim.set_price("DOGE-USD", 1)
    with pytest.raises(ValueError, match="positive"):
        sim.set_price("BTC-USD", 0)
    with pytest.raises(ValueError, match="transfer type"):
        sim.transfer(BASIC, 1, type="GIFT")
    with pytest.raises(ValueError, match="no open BTC-USD position"):
        sim.liquidate(BASIC, "BTC-USD")
    with pytest.raises(KeyError, match="unknown subaccount"):
        sim.liquidate(ACCOUNT, "BTC-USD")
    with pytest.raises(ValueError, match="not UNTRIGGERED"):
        sim.trigger_order(sim.place_order(BASIC, "BTC-USD", "BUY", 1, 1))


@pytest.mark.parametrize("name", packaged_names())
async def test_every_packaged_timeline_runs(name):
    sim = Simulator(load_scenario(name), SimSettings(block_interval=0))
    for cue in cues(sim.scenario):
        await run_cue(sim, cue)
    sim.refuse_connections(False)


async def test_liquidation_scenario_numbers():
    sim = Simulator(load_scenario("liquidation"), SimSettings(block_interval=0))
    assert sim.equity(ACCOUNT) == (1000.0, 400.0)
    for cue in cues(sim.scenario):
        await run_cue(sim, cue)
    assert sim.equity(ACCOUNT) == (74.46, 74.46)
    (fill,) = sim.exchange.accounts[ACCOUNT].fills
    assert (fill.type, fill.liquidity, fill.price) == ("LIQUIDATED", "TAKER", 55400.0)
