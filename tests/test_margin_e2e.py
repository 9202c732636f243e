"""The margin scenario end to end: simulator -> App (source, rules, delivery) -> webhook.

BTC walks toward the account's liquidation price: the distance alert fires before the
LIQUIDATED fill and resolves when the price recovers; stops are placed in order (none, beyond
the liquidation price, safe); two hourly funding ticks settle with opposite signs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from alertbot.sim import SimSettings, Simulator, load_scenario
from tests.apphelpers import running, until, write_config
from tests.notify.fakes import FakeHttp
from tests.test_app_wires import alerts

RULES = """
  - name: liq-near
    on: risk
    when: liquidation_distance_pct < 5
    resolve_when: liquidation_distance_pct > 7
    title: "{{ ticker }} {{ liquidation_distance_pct | round(2) }}% from liquidation"
  - name: stop-state
    on: "stop.*"
    title: "stop {{ stop_status }} on {{ ticker }}"
  - name: funding-paid
    on: funding
    title: "funding {{ payment | round(4) }} flip={{ sign_flip }}"
  - name: liquidated
    on: fill
    when: liquidated
    title: "liquidated {{ ticker }}"
"""
EXTRA = "defaults:\n  group_interval: 0s\n"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    settings = SimSettings(block_interval=0.1, time_scale=8.0)
    async with Simulator(load_scenario("margin"), settings) as simulator:
        yield simulator


async def test_margin_scenario_end_to_end(tmp_path: Path, sim: Simulator, sink: FakeHttp) -> None:
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), RULES, extra=EXTRA)
    async with running(path):
        await until(lambda: alerts(sink.requests), "the missing stop at start")
        await sim.play()
        await until(
            lambda: any(a["rule"] == "liquidated" for a in alerts(sink.requests)),
            "the liquidation fill",
        )
    seen = [(a["rule"], a["status"], a["title"]) for a in alerts(sink.requests)]
    stops = [t for r, _, t in seen if r == "stop-state"]
    assert stops == [
        "stop missing on BTC-USD",
        "stop unsafe on BTC-USD",
        "stop missing on BTC-USD",
        "stop ok on BTC-USD",
        "stop missing on BTC-USD",
    ]
    # 0.1 x 60000 x 0.0001 = 0.6 paid; then 0.1 x 60000 x -0.0002 = 1.2 received (a flip)
    funding = [t for r, _, t in seen if r == "funding-paid"]
    assert funding == ["funding -0.6 flip=False", "funding 1.2 flip=True"]
    order = [(r, s) for r, s, _ in seen if r in ("liq-near", "liquidated")]
    assert order == [
        ("liq-near", "firing"),  # BTC near 53000: under 5 % from 51540
        ("liq-near", "resolved"),  # recovered to 58000: more than 7 % away
        ("liq-near", "firing"),  # the fall to 51000
        ("liquidated", "firing"),  # the LIQUIDATED fill comes after the warning
    ]
