"""Replay equals live (issue 9): a recording that spans a socket outage, during which fills and
a transfer arrive only over REST polling, replays to the very notifications the live run made."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from alertbot.config import Config
from alertbot.config_load import parse_config
from alertbot.core.model import Notification
from alertbot.replay import ReplaySummary, engine_run
from alertbot.rules.engine import Engine
from alertbot.sim import SimSettings, Simulator, load_scenario
from alertbot.source.client import IndexerSource
from alertbot.source.feed import Feed
from alertbot.source.normalize import Normalizer
from alertbot.source.recording import RecordingWriter, replay_events
from tests.apphelpers import until
from tests.source.test_live import ACC

RULES = """
source:
  ws_url: {ws}
  rest_url: {rest}
  subaccounts: [{acc}]
  markets: [ETH-USD]
  market_channels: []
  reconnect: {{initial: 20ms, max: 100ms}}
  polling: {{after: 200ms, interval: 200ms}}
  reconcile_interval: 0
http: {{enabled: false}}
rules:
  - {{name: fills, on: fill, title: "fill {{{{ id }}}} catchup={{{{ catchup }}}}"}}
  - {{name: filled, on: order.filled, title: "filled {{{{ order_id }}}}"}}
  - {{name: transfers, on: transfer, title: "transfer {{{{ type }}}} {{{{ size }}}}"}}
  - {{name: lost, on: connection.lost, title: "lost {{{{ conn }}}}"}}
"""


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    settings = SimSettings(block_interval=0.1, batch_interval=0.02)
    async with Simulator(load_scenario("basic"), settings) as simulator:
        yield simulator


def subscribed(source: IndexerSource) -> bool:
    return all(s.status == "active" for c in source.feed.conns.values() for s in c.subs.values())


def told(notes: list[Notification]) -> list[tuple[str, str, str, float]]:
    return [(n.rule, n.status, n.title, round(n.at, 6)) for n in notes]


async def live_run(config: Config, sim: Simulator, recording: Path) -> list[Notification]:
    engine = Engine(config)
    notes: list[Notification] = []
    seen = asyncio.Event()
    with recording.open("wb") as stream:
        writer = RecordingWriter(stream)
        source = IndexerSource(
            config.source, env={}, on_raw=writer.frame, on_close=writer.closed, on_rest=writer.rest
        )

        async def consume() -> None:
            async for event in source:
                notes.extend(engine.process(event, event.at))
                if event.kind == "market" and event.data["oracle_price"] == 3001.0:
                    seen.set()

        async with source:
            task = asyncio.create_task(consume())
            await until(lambda: (ACC[:-2], 0) in source.normalizer.subs.accounts.by_key, "snapshot")
            sim.refuse_connections(True)
            await sim.disconnect_all(1006)
            await until(lambda: source.polling, "polling")
            order = sim.place_order(ACC, "ETH-USD", "SELL", 0.5, 3100)
            sim.new_block()
            sim.fill_order(order)
            sim.transfer(ACC, 40, type="WITHDRAWAL")
            sim.refuse_connections(False)  # polling, then the reconciliation, find them
            await until(lambda: len(notes) >= 4, "lost, fill, filled, transfer: all from REST")
            await until(lambda: not source.polling and subscribed(source), "resubscribed")
            sim.set_price("ETH-USD", 3001)
            await asyncio.wait_for(seen.wait(), 10)
            task.cancel()
    return notes


async def test_a_replay_across_an_outage_reports_what_the_live_run_did(sim, tmp_path):
    text = RULES.format(ws=sim.ws_url, rest=sim.rest_url, acc=ACC)
    config = parse_config(text, "rules.yaml", env={})
    recording = tmp_path / "rec.jsonl"
    live = await live_run(config, sim, recording)
    assert any(n.rule == "fills" and "catchup=True" in n.title for n in live)
    assert [n.rule for n in live].count("transfers") == 1
    feed = Feed(Normalizer())
    events = replay_events(recording, feed=feed, lookback=config.source.catchup.lookback)
    replayed = list(engine_run(Engine(config), events, ReplaySummary()))
    assert told(replayed) == told(live)
