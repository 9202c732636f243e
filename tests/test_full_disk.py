"""A full state volume (SQLite's max_page_count standing in for the disk): /healthz says so with
the reason, nothing is lost: what cannot be saved is sent at once from memory, and saved (as
sent) once space returns."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3

from tests.apphelpers import running, until, write_config
from tests.test_cli import ACC
from tests.web.helpers import get

FILLS = """
  - name: fill-seen
    on: fill
    group_interval: 100ms
    title: "Fill {{ id }}"
"""


def fill_the_volume(conn: sqlite3.Connection) -> None:
    """No page left anywhere: cap the file at its size, then use up each table's free space.

    Ballast rows are ones the bot ignores: sent outbox rows, rule state of no rule, history.
    """
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    ballast = [
        "INSERT INTO outbox (notifier, status, next_attempt_at, created_at, updated_at, rule, "
        "alert_status, fingerprint, title, note) VALUES ('x', 'sent', 0, 0, 0, 'x', 'x', 'x', "
        "'x', ?)",
        "INSERT INTO rule_state (rule, digest, key, value, updated_at) "
        "VALUES ('ballast', 'x', hex(randomblob(8)), ?, 0)",
        "INSERT INTO alert_history (rule, fingerprint, state, severity, labels, at, starts_at) "
        "VALUES ('ballast', 'x', 'x', 'info', ?, 0, 0)",
    ]
    for size in (2000, 400, 60, 8):
        for sql in ballast:
            with contextlib.suppress(sqlite3.OperationalError):  # database or disk is full
                for _ in range(5_000):
                    conn.execute(sql, ("x" * size,))


def fill_titles(sink) -> list[str]:
    return [a["title"] for r in sink.requests for a in r.json()["alerts"]]


async def test_a_full_disk_turns_health_red_and_loses_nothing(sim, sink, tmp_path):
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), FILLS)
    async with running(path) as run:
        web, store = run.app.web, run.app._state
        assert web is not None
        assert store is not None
        conn = store.db.conn  # type: ignore[attr-defined]
        await until(lambda: run.app.events["account"] > 0, "the subaccount's snapshot")
        fill_the_volume(conn)
        filled = sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900))
        reply = await get(web.port, "/healthz")
        async with asyncio.timeout(10):
            while reply.status != 503:
                reply = await get(web.port, "/healthz")
        body = json.loads(reply.body)
        assert any("state database cannot be written" in r for r in body["reasons"])
        assert any("full" in r for r in body["reasons"])  # SQLite: database or disk is full
        await until(lambda: f"Fill {filled}" in fill_titles(sink), "the fill, sent from memory")
        conn.execute("PRAGMA max_page_count = 1073741823")  # space is back
        async with asyncio.timeout(10):
            while reply.status != 200:
                reply = await get(web.port, "/healthz")
        assert (run.app._delivery.status())["unwritable"] == ""  # type: ignore[union-attr]
    assert fill_titles(sink).count(f"Fill {filled}") == 1
