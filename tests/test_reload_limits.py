"""A hostile rules file written over a running bot's config: refused fast, the old rules stay."""

from __future__ import annotations

import asyncio
import itertools
import time

from tests.apphelpers import running, until, write_config
from tests.test_cli import ACC

FILLS = """
  - name: fill-seen
    on: fill
    title: "Fill {{ size }}"
"""


def alias_bomb() -> str:
    """796 bytes that expand to 9^9 (387 million) values if anything walks them naively."""
    lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


async def test_an_alias_bomb_on_reload_is_refused_and_the_old_rules_keep_running(
    sim, sink, tmp_path
):
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), FILLS)
    async with running(path) as run:
        path.write_text(alias_bomb(), encoding="utf-8")
        ticks: list[float] = []

        async def heartbeat() -> None:  # the event loop must stay free while it validates
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        beat = asyncio.create_task(heartbeat())
        started = time.monotonic()
        refused = not await run.app.reload()
        took = time.monotonic() - started
        beat.cancel()
        sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900))
        await until(lambda: any(a["rule"] == "fill-seen" for a in alerts(sink)), "the fill")
    assert refused
    assert took < 5.0
    assert max((b - a for a, b in itertools.pairwise(ticks)), default=0) < 0.5
    titles = [a["title"] for a in alerts(sink)]
    assert any(t.startswith("Config reload refused") for t in titles)  # one alert says why
    assert "Fill 0.01" in titles  # the old rules still alert


def alerts(sink) -> list[dict]:
    return [a for r in sink.requests for a in r.json()["alerts"]]
