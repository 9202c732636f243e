"""What `run` says at start (INFO) and what `tail --kind` refuses: a user's first minute."""

from __future__ import annotations

import logging

from alertbot import cli
from tests.apphelpers import running, write_config
from tests.test_cli import ACC, write_rules


async def test_run_says_where_it_connects_what_it_watches_and_where_state_lives(
    sim, tmp_path, caplog
):
    path = write_config(tmp_path / "rules.yaml", sim, "http://127.0.0.1:9/hook", "  []\n")
    with caplog.at_level(logging.INFO, logger="alertbot"):
        async with running(path):
            pass
    said = [r.getMessage() for r in caplog.records if r.name == "alertbot"]
    assert f"connecting to {sim.ws_url} (REST {sim.rest_url})" in said
    assert (
        f"watching 1 subaccount ({ACC}), no parent subaccounts and 1 market (BTC-USD) "
        "over 1 connection(s); 0 rule(s)"
    ) in said
    assert f"state in {(tmp_path / 'state').resolve()}" in said


def test_tail_refuses_a_kind_that_matches_nothing(tmp_path, capsys):
    path = write_rules(tmp_path / "rules.yaml", "ws://127.0.0.1:9/v4/ws", "http://127.0.0.1:9/v4")
    code = cli.main(["tail", "-c", str(path), "--kind", "order.*", "--kind", "ordr.filed"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert "--kind 'ordr.filed' matches no event kind; did you mean 'order.filled'?" in err


def test_tail_kind_globs_that_match_are_accepted():
    from alertbot.watch import kind_filter

    wanted = kind_filter(["order.*", "fill"])
    assert wanted("order.filled")
    assert wanted("fill")
    assert not wanted("account")
