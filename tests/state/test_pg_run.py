"""`alertbot run` on the simulator with `state: {backend: postgresql}`: alerts reach the webhook,
the dsn's password is never printed, and connections cut mid-run lose nothing."""

from __future__ import annotations

import asyncio
import json
import sys

import psycopg

from tests.apphelpers import running, until, write_config
from tests.pg import ADMIN_DSN, terminate
from tests.test_cli import ACC, TIMEOUT, env, lines_until, stop
from tests.test_full_disk import FILLS, fill_titles
from tests.web.helpers import get

SEEN = """
  - name: account-seen
    on: account
    when: equity > 0
    title: "Watching"
"""
PASSWORD = "NotPrinted9x"  # trust auth ignores it; it must still never be printed


def with_password(dsn: str) -> str:
    return dsn.replace("postgres@", f"postgres:{PASSWORD}@")


def pg_state(dsn: str, **keys: str) -> str:
    more = "".join(f"  {k}: {v}\n" for k, v in keys.items())
    return f"state:\n  backend: postgresql\n  dsn: {dsn}\n{more}"


def outbox(dsn: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT status, title FROM outbox ORDER BY id").fetchall()


async def test_alertbot_run_with_postgresql_delivers_to_the_webhook(sim, sink, tmp_path, pg_dsn):
    extra = pg_state("${ALERTBOT_PG_DSN}")
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), FILLS + SEEN, extra=extra)
    proc = await start_with(path, with_password(pg_dsn))
    try:
        await lines_until(proc, lambda line: "state in postgresql://" in line, stderr=True)
        await until(lambda: "Watching" in fill_titles(sink), "the account, subscribed")
        filled = sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900))
        await until(lambda: f"Fill {filled}" in fill_titles(sink), "the fill at the webhook")
    finally:
        assert await stop(proc) == 0
    printed = b"".join([await proc.stdout.read(), await proc.stderr.read()])  # type: ignore[union-attr]
    assert PASSWORD.encode() not in printed
    assert ("sent", f"Fill {filled}") in outbox(pg_dsn)  # the outbox is PostgreSQL's
    assert not (tmp_path / "state" / "alertbot.db").exists()  # and no SQLite file was made


async def start_with(path, dsn):
    """`alertbot run -c path` as a process, with the dsn in its environment only."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "alertbot", "run", "-c", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**env(), "ALERTBOT_PG_DSN": dsn},
    )  # fmt: skip


async def test_connections_cut_mid_run_lose_nothing(sim, sink, tmp_path, pg_dsn):
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), FILLS, extra=pg_state(pg_dsn))
    filled = []
    async with running(path) as run:
        await until(lambda: run.app.events["account"] > 0, "the subaccount's snapshot")
        for _ in range(4):
            assert terminate(pg_dsn) >= 1  # every connection of the pool, mid-run
            filled.append(sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900)))
            await until(lambda: f"Fill {filled[-1]}" in fill_titles(sink), "the fill, delivered")
    titles = fill_titles(sink)
    assert [titles.count(f"Fill {f}") for f in filled] == [1, 1, 1, 1]  # each once, none lost
    assert {s for s, _ in outbox(pg_dsn)} == {"sent"}


def connections(dsn: str, allowed: bool) -> None:
    """An outage: refuse new connections to the database and cut the open ones (or end it)."""
    name = dsn.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
    if not allowed:
        terminate(dsn)


async def health(port: int) -> tuple[int, dict]:
    reply = await get(port, "/healthz")
    return reply.status, json.loads(reply.body)


async def test_a_full_buffer_stops_taking_events_and_health_says_so(sim, sink, tmp_path, pg_dsn):
    extra = pg_state(pg_dsn, buffer="1")
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), FILLS, extra=extra)
    async with running(path) as run:
        web, delivery = run.app.web, run.app._delivery
        assert web is not None
        assert delivery is not None
        await until(lambda: run.app.events["account"] > 0, "the subaccount's snapshot")
        connections(pg_dsn, allowed=False)
        try:
            held = sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900))
            await until(lambda: delivery.paused, "the buffer of one, full")
            taken = sum(run.app.events.values())
            code, body = await health(web.port)
            assert code == 503
            assert any("taking no events" in r for r in body["reasons"])
            assert any("cannot reach PostgreSQL" in r for r in body["reasons"])
            later = sim.fill_order(sim.place_order(ACC, "BTC-USD", "SELL", 0.01, 60100))
            source = run.app._source
            assert source is not None
            await until(lambda: len(source.buffer) > 0, "the later fill's events, received")
            assert sum(run.app.events.values()) == taken  # received, held, not taken
        finally:
            connections(pg_dsn, allowed=True)
        for fill in (held, later):  # back: the held one is saved and sent, the socket read on
            await until(lambda f=fill: f"Fill {f}" in fill_titles(sink), f"fill {fill}", TIMEOUT)
        await until(lambda: not delivery.paused, "taking events again")
        code, _ = await health(web.port)
        assert code == 200
    assert [fill_titles(sink).count(f"Fill {f}") for f in (held, later)] == [1, 1]
