"""`alertbot risk`: REST once from the simulator, liquidation prices and a cross-margin stress."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from alertbot.cli import main
from alertbot.commands.risk import parse_move
from alertbot.core.errors import AlertbotError
from alertbot.sim import SimSettings, Simulator, load_scenario

ACC = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art/0"
# BTC 0.1 long and ETH 2 long in cross margin, USDC -10000, a reduce-only stop on BTC at 50000:
#   E = -10000 + 6000 + 6000 = 2000; MMR = 180 + 300 = 480
#   BTC: p = (300 + 6000 - 2000) / 0.097 = 44329.90; 26.12 % away; the stop at 50000 is safe
#   ETH: p = (180 + 6000 - 2000) / 1.9 = 2200.00; 26.67 % away
SCENARIO = f"""
name: cross
markets:
  BTC-USD: {{oracle_price: 60000, maintenance_margin_fraction: 0.03, initial_margin_fraction: 0.05}}
  ETH-USD: {{oracle_price: 3000, maintenance_margin_fraction: 0.05, initial_margin_fraction: 0.1}}
accounts:
  {ACC}:
    usdc: -10000
    positions:
      BTC-USD: {{size: 0.1, entry_price: 60000}}
      ETH-USD: {{size: 2, entry_price: 3000}}
    orders:
      - {{ticker: BTC-USD, side: SELL, size: 0.1, price: 49000, trigger_price: 50000,
          type: STOP_MARKET, reduce_only: true}}
"""


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    (tmp_path / "cross.yaml").write_text(SCENARIO, encoding="utf-8")
    scenario = load_scenario(str(tmp_path / "cross.yaml"))
    async with Simulator(scenario, SimSettings(block_interval=0)) as simulator:
        yield simulator


def rules(tmp_path: Path, sim: Simulator) -> str:
    path = tmp_path / "rules.yaml"
    path.write_text(
        f"""
version: 1
source:
  ws_url: {sim.ws_url}
  rest_url: {sim.rest_url}
  subaccounts: [{ACC}]
state_dir: {tmp_path / "state"}
rules:
  - name: near
    on: risk
    when: liquidation_distance_pct < 10
""",
        encoding="utf-8",
    )
    return str(path)


async def test_positions_and_the_stress_of_one_market_on_another(
    tmp_path: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    path = rules(tmp_path, sim)
    argv = ["risk", "-c", path, "--move", "ETH-USD=-10%", "--move", "BTC-USD=-5%"]
    assert await asyncio.to_thread(main, argv) == 0
    out = capsys.readouterr().out
    assert f"{ACC} (cross): equity 2,000.00  maintenance 480.00" in out
    assert "BTC-USD LONG 0.1 @ 60,000.00  liquidation 44,329.90  distance 26.12%" in out
    assert "stop ok" in out
    assert "ETH-USD LONG 2 @ 3,000.00  liquidation 2,200.00  distance 26.67%" in out
    # ETH -10 % (2700) and BTC -5 % (57000):
    #   E = -10000 + 5700 + 5400 = 1100; MMR = 171 + 270 = 441 -> safe
    #   BTC: p = (270 + 5700 - 1100) / 0.097 = 50206.19, now 11.92 % from 57000
    after = out.split("if ", 1)[1]
    assert f"{ACC}: safe  equity 1,100.00  maintenance 441.00" in after
    assert "BTC-USD LONG 0.1 @ 57,000.00  liquidation 50,206.19  distance 11.92%" in after


async def test_a_move_that_liquidates(
    tmp_path: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # ETH -30 % (2100): E = -10000 + 6000 + 4200 = 200 < MMR = 180 + 210 = 390
    argv = ["risk", "-c", rules(tmp_path, sim), "--move", "ETH-USD=-30%"]
    assert await asyncio.to_thread(main, argv) == 0
    assert f"{ACC}: LIQUIDATED  equity 200.00  maintenance 390.00" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arg", "words"),
    [
        ("BTC-USD", "expected TICKER=N%"),
        ("BTC-USD=-10", "expected TICKER=N%"),
        ("BTC-USD=ten%", "expected TICKER=N%"),
        ("BTC-USD=-100%", "cannot fall by 100%"),
    ],
)
def test_bad_moves_are_clear_errors(
    arg: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["risk", "-c", "nowhere.yaml", "--move", arg]) == 2
    err = capsys.readouterr().err
    assert words in err
    assert arg in err


async def test_unknown_market_and_twice(
    tmp_path: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    path = rules(tmp_path, sim)
    assert await asyncio.to_thread(main, ["risk", "-c", path, "--move", "DOGE-USD=5%"]) == 2
    assert "no market DOGE-USD" in capsys.readouterr().err
    argv = ["risk", "-c", path, "--move", "BTC-USD=5%", "--move", "btc-usd=1%"]
    assert main(argv) == 2
    assert "BTC-USD is given twice" in capsys.readouterr().err


def test_parse_move() -> None:
    assert parse_move("BTC-USD=-10%") == ("BTC-USD", pytest.approx(-0.10))
    assert parse_move(" eth-usd = +2.5% ") == ("ETH-USD", pytest.approx(0.025))
    with pytest.raises(AlertbotError):
        parse_move("=5%")
