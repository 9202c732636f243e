"""The commands that open the state (`silence`, `outbox`) use the backend the config names."""

from __future__ import annotations

import psycopg

from alertbot.cli import main
from alertbot.state import open_state
from tests.delivery.fakes import note
from tests.pg import pg_config

ADDR = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"
PASSWORD = "NotPrinted9x"


def config(tmp_path, dsn: str, extra: str = "") -> str:
    path = tmp_path / "rules.yaml"
    path.write_text(
        f"source:\n  subaccounts: [{ADDR}/0]\nstate:\n  backend: postgresql\n  dsn: {dsn}\n"
        f"rules:\n  - {{name: low, on: account, when: equity < 10}}\n{extra}",
        encoding="utf-8",
    )
    return str(path)


def test_silence_and_outbox_commands_use_postgresql(tmp_path, pg_dsn, capsys):
    dsn = pg_dsn.replace("postgres@", f"postgres:{PASSWORD}@")
    path = config(tmp_path, dsn)
    assert main(["silence", "add", "-c", path, "--rule", "low", "--for", "1h"]) == 0
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT rule FROM silences").fetchall() == [("low",)]
    store = open_state("", config=pg_config(pg_dsn))
    store.outbox.add(note(1), "hook", 1.0)
    store.close()
    assert main(["outbox", "list", "-c", path]) == 0
    out = capsys.readouterr().out
    assert "1 pending, 0 dead (postgresql://postgres:***@127.0.0.1:5432/" in out
    assert PASSWORD not in out
    assert not (tmp_path / ".alertbot").exists()  # no SQLite store was made beside it


def test_a_broken_config_naming_postgresql_is_refused_not_read_as_sqlite(tmp_path, pg_dsn, capsys):
    path = config(tmp_path, pg_dsn, extra="bogus: 1\n")
    assert main(["outbox", "list", "-c", path]) == 2
    assert "its state backend is postgresql: fix it first" in capsys.readouterr().err
