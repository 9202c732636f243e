"""Catch-up after the bot's own downtime: an App is stopped, the simulator trades while no bot
runs, and the restarted App alerts each of those events once, with its real time (issue 9)."""

from __future__ import annotations

import time
from pathlib import Path

from alertbot.app import App
from alertbot.sim import Simulator
from tests.apphelpers import Run, running, until, write_config
from tests.notify.fakes import FakeHttp
from tests.test_cli import ACC, lines_until, start, stop, write_rules

RULES = """
  - name: fill-seen
    group_interval: 100ms  # bursts are not what these tests are about
    on: fill
    title: "{% if catchup %}[catch-up] {% endif %}fill {{ id }} {{ type }}"
  - name: order-filled
    group_interval: 100ms  # bursts are not what these tests are about
    on: order.filled
    title: "{% if catchup %}[catch-up] {% endif %}filled {{ order_id }}"
  - name: position-closed
    group_interval: 100ms  # bursts are not what these tests are about
    on: position.closed
    title: "{% if catchup %}[catch-up] {% endif %}closed {{ ticker }}"
  - name: transfer-seen
    group_interval: 100ms  # bursts are not what these tests are about
    on: transfer
    title: "{% if catchup %}[catch-up] {% endif %}transfer {{ type }} {{ size }}"
  - name: caught-up
    on: source.catchup
    when: skipped > 0
    title: >-
      {{ skipped }} older events not alerted:
      {% for kind, n in skipped_kinds.items() %}{{ kind }} {{ n }}{{ ", " if not loop.last }}
      {%- endfor %}
"""


def alerts(sink: FakeHttp) -> list[dict]:
    """Every alert told, a grouped notification's members one by one (rule, title, starts_at)."""
    out = []
    for request in sink.requests:
        for note in request.json()["alerts"]:
            members = note["members"] or [note]
            out += [{"rule": note["rule"], **m} for m in members]
    return out


def source_of(run: Run) -> object:
    source = run.app._source
    assert source is not None
    return source


async def caught_up(run: Run, rounds: int = 2) -> None:
    """The start's catch-up round and the reconciliation after the first snapshot both ran."""
    app: App = run.app
    await until(lambda: app._source is not None and app._source.sync.rounds >= rounds, "rounds")
    await until(lambda: app.events["account"] >= 1, "the first snapshot")


def trade_while_down(sim: Simulator) -> dict[str, str]:
    """A fill of our order, a liquidation that closes the BTC position and a deposit."""
    sim.new_block()
    order = sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900)
    sim.new_block()
    fill = sim.fill_order(order)
    sim.new_block()
    liquidation = sim.liquidate(ACC, "BTC-USD", 59000)
    sim.new_block()
    sim.transfer(ACC, 250, type="DEPOSIT")
    sim.new_block()
    return {"order": order, "fill": fill, "liquidation": liquidation}


async def test_events_while_down_are_alerted_once_with_their_time(sim, sink, tmp_path):
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), RULES)
    async with running(path) as run:
        await caught_up(run)
    assert alerts(sink) == []  # the first start is a baseline: history is not news
    made_at = time.time()
    ids = trade_while_down(sim)
    restarted_at = time.time()
    async with running(path) as run:
        await until(lambda: len(alerts(sink)) >= 5, "five catch-up alerts")
        await caught_up(run)
        # catch-up events carry when they happened: no measure of alertbot's own latency (a live
        # event whose processing flushed a group may be counted, the five caught up are not)
        assert run.app.latency.snapshot().count < 5
    got = alerts(sink)
    titles = sorted(a["title"] for a in got)
    assert titles == sorted(
        [
            f"[catch-up] fill {ids['fill']} LIMIT",
            f"[catch-up] fill {ids['liquidation']} LIQUIDATED",
            f"[catch-up] filled {ids['order']}",
            "[catch-up] closed BTC-USD",
            "[catch-up] transfer DEPOSIT 250.0",
        ]
    )
    for alert in got:  # each carries the time it happened at the exchange, not the restart's
        assert made_at - 1 <= _seconds(alert["starts_at"]) <= restarted_at
    async with running(path) as run:  # a second restart: nothing is news any more
        await caught_up(run)
        sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.02, 59800))  # live, after it
        await until(lambda: len(alerts(sink)) >= 7, "the live fill and order")
    later = alerts(sink)[5:]
    assert sorted(a["rule"] for a in later) == ["fill-seen", "order-filled"]
    assert not any("[catch-up]" in a["title"] for a in later)


def _seconds(iso: str) -> float:
    from alertbot.source.catchup import parse_time

    value = parse_time(iso)
    assert value is not None
    return value


async def test_a_fill_the_socket_delivers_after_catch_up_is_not_told_twice(sim, sink, tmp_path):
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), RULES)
    async with running(path) as run:
        await caught_up(run)
    order = sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900)
    fill = sim.fill_order(order, 0.004)  # while down
    async with running(path) as run:
        await until(lambda: len(alerts(sink)) >= 1, "the catch-up fill")
        await caught_up(run)
        await sim.disconnect_all(1006)  # the socket resubscribes; REST reconciles again
        await until(lambda: run.app.events["connection.reconnect"] >= 1, "a reconnect")
        rounds = source_of(run).sync.rounds  # type: ignore[attr-defined]
        await caught_up(run, rounds + 1)
        second = sim.fill_order(order)  # the rest of the order, live
        await until(lambda: any(fill_of(a) == second for a in alerts(sink)), "the live fill")
    fills = [fill_of(a) for a in alerts(sink) if a["rule"] == "fill-seen"]
    assert sorted(fills) == sorted([fill, second])


def fill_of(alert: dict) -> str | None:
    return alert["title"].split()[-2] if alert["rule"] == "fill-seen" else None


async def test_events_older_than_the_lookback_are_one_summary(sim, sink, tmp_path: Path):
    extra = "  catchup: {lookback: 10m}\n"
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), RULES)
    text = path.read_text().replace("  reconnect:", extra + "  reconnect:", 1)
    path.write_text(text)
    async with running(path) as run:
        await caught_up(run)
    sim.set_clock_offset(-3600)  # the exchange's clock: these happened an hour ago
    for _ in range(6):
        sim.new_block()
        sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900))
    sim.set_clock_offset(0)
    sim.new_block()
    recent = sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900))
    async with running(path) as run:
        await until(lambda: len(alerts(sink)) >= 3, "the recent fill, its order and a summary")
        await caught_up(run)
    by_rule = sorted(a["rule"] for a in alerts(sink))
    assert by_rule == ["caught-up", "fill-seen", "order-filled"]
    (summary,) = [a for a in alerts(sink) if a["rule"] == "caught-up"]
    assert summary["title"] == "12 older events not alerted: fill 6, order.filled 6"
    (told,) = [a for a in alerts(sink) if a["rule"] == "fill-seen"]
    assert fill_of(told) == recent


async def test_restarts_with_fills_running_starting_and_stopped_tell_each_once(sim, sink, tmp_path):
    """The issue's experiment in small: fills while running, right at start and while down."""
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), RULES)
    made: list[str] = []

    def fill() -> None:
        sim.new_block()
        made.append(sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.001, 59900)))

    async with running(path) as run:  # the first start is the baseline: nothing before is news
        await caught_up(run)
    for _ in range(3):
        async with running(path) as run:
            fill()  # at start: before or during the catch-up round and the subscriptions
            await caught_up(run, 1)
            fill()  # live
            await until(lambda: told_fills(sink) >= set(made), "every fill so far")
        fill()  # while no bot runs
        fill()
    async with running(path) as run:
        await caught_up(run)
        await until(lambda: told_fills(sink) >= set(made), "every fill")
    ids = [fill_of(a) for a in alerts(sink) if a["rule"] == "fill-seen"]
    assert sorted(ids) == sorted(made)  # each exactly once


def told_fills(sink: FakeHttp) -> set[str | None]:
    return {fill_of(a) for a in alerts(sink) if a["rule"] == "fill-seen"}


async def test_a_fill_between_the_start_round_and_the_first_snapshot_is_found(sim, sink, tmp_path):
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), RULES)
    async with running(path) as run:
        await caught_up(run)
    sim.delay_snapshots("v4_subaccounts", 1.0)  # the socket has not caught up yet
    async with running(path) as run:
        await until(lambda: run.app._source is not None and run.app._source.sync.rounds >= 1, "1")
        sim.new_block()
        made = sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.001, 59900))
        await until(lambda: made in told_fills(sink), "the fill, from the reconciliation")
        await caught_up(run)
    assert [fill_of(a) for a in alerts(sink) if a["rule"] == "fill-seen"] == [made]


async def test_alertbot_run_catches_up_after_a_stop(sim, tmp_path):
    """The real command: SIGTERM, an order filled while it is stopped, start again."""
    rules = write_rules(tmp_path / "rules.yaml", sim.ws_url, sim.rest_url)
    proc = await start("run", "-c", str(rules))
    try:
        await lines_until(proc, lambda line: line.startswith("account-seen · since"))
    finally:
        assert await stop(proc) == 0
    sim.new_block()
    sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900))
    filled_by = time.time()
    proc = await start("run", "-c", str(rules))
    try:
        out = await lines_until(proc, lambda line: line.startswith("order-filled · since"))
    finally:
        await stop(proc)
    since = out[-1].split("since ", 1)[1].split()[0]
    assert _seconds(since) <= filled_by  # told with the time it filled, not the restart's
    assert "[WARNING] Filled BUY 0.01 BTC-USD" in out
