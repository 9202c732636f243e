"""The wires between parts inside `alertbot run`, each through a running App on real sockets.

Each test fails when its wire is cut (checked by cutting it once): plugin enrichment before
delivery, alert state carried across a reload, the outbox depth behind /healthz, and the
digest's window (saved across a restart).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from alertbot.core.model import iso_utc
from tests.apphelpers import running, until, write_config
from tests.notify.fakes import Request
from tests.test_cli import ACC
from tests.web.helpers import get

REPO_PLUGINS = Path(__file__).resolve().parent.parent / "plugins"
WATCH = """
  - name: account-seen
    on: account
    when: equity > 0
    title: "Watching {{ address }}"
"""
FILLS = """
  - name: fill-seen
    on: fill
    title: "Fill {{ size }}"
"""


def alerts(requests: list[Request]) -> list[dict]:
    return [a for r in requests for a in r.json()["alerts"]]


def rules_of(requests: list[Request]) -> list[tuple[str, str]]:
    return [(a["rule"], a["status"]) for a in alerts(requests)]


async def test_plugin_enrichment_reaches_the_notifier(sim, sink, tmp_path):
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), WATCH, plugins=REPO_PLUGINS)
    async with running(path):
        await until(lambda: sink.requests, "the alert at the sink")
    (alert,) = alerts(sink.requests)
    address = ACC.split("/")[0]
    assert alert["labels"]["explorer"] == f"https://www.mintscan.io/dydx/address/{address}"


async def test_a_reload_carries_alert_state(sim, sink, tmp_path):
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), WATCH)
    async with running(path) as run:
        await until(lambda: sink.requests, "account-seen firing")
        write_config(path, sim, sink.url(), WATCH + FILLS)  # an unrelated rule is added
        assert await run.app.reload()
        sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900))  # account events
        await until(lambda: ("fill-seen", "firing") in rules_of(sink.requests), "the new rule")
        await until(lambda: run.app.events["account"] >= 3, "account events after the reload")
    # account-seen stayed firing across the reload: it was not told a second time
    assert rules_of(sink.requests).count(("account-seen", "firing")) == 1


async def test_health_turns_503_while_the_outbox_is_stuck(sim, sink, tmp_path):
    sink.default = (500, {}, b"down")
    path = write_config(
        tmp_path / "rules.yaml", sim, sink.url(), WATCH, unhealthy="300ms", backoff="30s"
    )
    async with running(path) as run:
        web = run.app.web
        assert web is not None
        await until(lambda: sink.requests, "a failed delivery")
        first = await get(web.port, "/healthz")
        reply = first
        async with asyncio.timeout(10):
            while reply.status != 503:
                reply = await get(web.port, "/healthz")
    assert first.status == 200
    body = json.loads(reply.body)
    assert body["outbox"]["depth"] == 1
    assert any(reason.startswith("outbox: oldest pending") for reason in body["reasons"])


async def test_each_digest_counts_only_the_alerts_since_the_last(sim, sink, tmp_path):
    digest = "jobs: {digest: {every: 1d, notify: [hook]}}\n"
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), WATCH, extra=digest)
    async with running(path) as run:
        await until(lambda: sink.requests, "account-seen firing")
        await run.app._digest()
        await until(lambda: len(alerts(sink.requests)) == 2, "the first digest")
        await run.app._digest()
        await until(lambda: len(alerts(sink.requests)) == 3, "the second digest")
        state = run.app._state
        assert state is not None
        sent_at = state.cursors.get("digest")["at"]
    first, second = (a["message"] for a in alerts(sink.requests)[1:])
    assert "  account-seen firing: 1" in first.splitlines()
    assert "account-seen" not in second  # the first digest's count was reset
    assert ": 0" in second.splitlines()[1]
    async with running(path) as run:  # restarted: the next digest goes on from the saved one
        await run.app._digest()
        await until(lambda: len(alerts(sink.requests)) == 4, "the digest after the restart")
    third = alerts(sink.requests)[3]["message"].splitlines()
    assert third[1].startswith(f"alerts since {iso_utc(sent_at)}: ")


async def test_risk_events_are_computed_only_while_a_rule_reads_them(sim, sink, tmp_path):
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), WATCH)
    risky = "  - {name: near, on: risk, when: liquidation_distance_pct < 1}\n"
    async with running(path) as run:
        source = run.app._source
        assert source is not None
        assert source.normalizer.risk is False  # no rule on risk kinds: the math is skipped
        write_config(path, sim, sink.url(), WATCH + risky)
        assert await run.app.reload()
        assert source.normalizer.risk is True
        before = run.app.events["risk"]
        sim.set_price("BTC-USD", 59_000)
        await until(lambda: run.app.events["risk"] > before, "risk events after the reload")


async def test_book_events_are_built_only_while_a_rule_reads_them(sim, sink, tmp_path):
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), WATCH)
    spread = "  - {name: wide, on: orderbook, when: spread_bps > 100000}\n"
    async with running(path) as run:
        source = run.app._source
        assert source is not None

        def settled_after(books: int) -> bool:
            """Book frames past `books` arrived and every event was taken by the engine."""
            return source.feed.messages.get("v4_orderbook", 0) > books and source._settled()

        await until(lambda: settled_after(0), "the book snapshot, taken")
        books = source.feed.messages["v4_orderbook"]
        sim.set_price("BTC-USD", 59_000)  # the book moves with the price
        await until(lambda: settled_after(books), "book updates, taken")
        assert run.app.events["orderbook"] == 0  # no rule reads it: not built
        assert run.app.events["market"] == 0
        write_config(path, sim, sink.url(), WATCH + spread)
        assert await run.app.reload()
        sim.set_price("BTC-USD", 58_000)
        await until(lambda: run.app.events["orderbook"] > 0, "book events after the reload")
        assert run.app.events["market"] == 0  # still read by nobody
