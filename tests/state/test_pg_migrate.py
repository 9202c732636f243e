"""`alertbot state migrate --to postgresql`: a SQLite state dir with a pending notification and a
firing alert moves into PostgreSQL; the run on PostgreSQL sends the pending one once and does
not notify the firing alert again."""

from __future__ import annotations

import psycopg

from alertbot.cli import main
from alertbot.state import open_state
from tests.apphelpers import running, until, write_config
from tests.delivery.fakes import note
from tests.test_cli import ACC
from tests.test_full_disk import FILLS, fill_titles

SEEN = """
  - name: account-seen
    on: account
    when: equity > 0
    title: "Watching"
"""


async def test_migration_keeps_the_pending_outbox_and_firing_alerts(
    sim, sink, tmp_path, pg_dsn, capsys
):
    sqlite_rules = write_config(tmp_path / "rules.yaml", sim, sink.url(), FILLS + SEEN)
    sink.default = (429, {"Retry-After": "1"}, b"later")  # longer than the drain: kept pending
    async with running(sqlite_rules) as run:
        await until(lambda: sink.requests, "a first (failing) delivery attempt")
        assert run.app.engine.active_alerts()  # account-seen is firing
    assert main(["state", "migrate", "--to", "postgresql", "--dsn", pg_dsn, "-c",
                 str(sqlite_rules)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "outbox: 1 row(s)" in out
    assert "rule_state: 0 row(s)" not in out
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT status, title FROM outbox").fetchall() == [
            ("pending", "Watching")
        ]

    sink.default, sink.requests = (200, {}, b"ok"), []
    pg_rules = tmp_path / "pg" / "rules.yaml"
    pg_rules.parent.mkdir()
    extra = f"state:\n  backend: postgresql\n  dsn: {pg_dsn}\n"
    write_config(pg_rules, sim, sink.url(), FILLS + SEEN, extra=extra)
    async with running(pg_rules) as run:
        await until(lambda: "Watching" in fill_titles(sink), "the migrated pending notification")
        await until(lambda: run.app.events["account"] > 0, "the subaccount's snapshot")
        filled = sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900))
        await until(lambda: f"Fill {filled}" in fill_titles(sink), "a later fill (a sentinel)")
    assert fill_titles(sink).count("Watching") == 1  # restored as firing: not notified again


def test_a_non_empty_target_is_refused_unless_replace(tmp_path, pg_dsn, capsys):
    state = tmp_path / "state"
    store = open_state(state)
    store.outbox.add(note(1), "hook", 1.0)
    store.close()
    args = ["state", "migrate", "--to", "postgresql", "--dsn", pg_dsn, "--state-dir", str(state)]
    assert main(args) == 0
    assert main(args) == 2
    assert "is not empty (1 outbox); pass --replace" in capsys.readouterr().err
    assert main([*args, "--replace"]) == 0
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone() == (1,)
