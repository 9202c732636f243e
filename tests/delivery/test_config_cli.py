"""The `delivery:` config section and the `alertbot outbox` commands."""

from __future__ import annotations

import argparse

import pytest

from alertbot.commands import outbox as outbox_commands
from alertbot.config_load import parse_config
from alertbot.core.errors import ConfigError
from alertbot.state import StateError, open_state
from alertbot.state.api import DEAD
from tests.delivery.fakes import note
from tests.rules.helpers import HEAD


def _config(delivery: str):
    return parse_config(HEAD + "delivery:\n" + delivery, "rules.yaml", env={})


def test_durations_are_written_as_text_and_defaults_apply():
    cfg = _config(
        "  max_age: 12h\n  timeout: 5s\n  backoff: {initial: 500ms, max: 2m}\n"
        "  fallback: ops\n  rate_limits: {ops: {messages: 20, per: 1m}}\n"
    ).delivery
    assert (cfg.max_age, cfg.timeout, cfg.backoff.initial, cfg.backoff.max) == (43200, 5, 0.5, 120)
    assert (cfg.max_attempts, cfg.fallback) == (20, "ops")
    assert (cfg.rate_limits["ops"].messages, cfg.rate_limits["ops"].per) == (20, 60.0)
    assert cfg.problems(["ops"]) == []


def test_unknown_keys_and_bad_values_are_errors_with_positions():
    with pytest.raises(ConfigError) as info:
        _config("  max_attempt: 3\n  timeout: soon\n")
    text = str(info.value)
    assert "rules.yaml:4:3: delivery.max_attempt: unknown key 'max_attempt'" in text
    assert "rules.yaml:5:12: delivery.timeout: invalid duration 'soon'" in text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alertbot")
    outbox_commands.register(parser.add_subparsers(dest="command"))
    return parser


def _cli(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return int(args.handler(args))


def test_outbox_list_and_retry(tmp_path, capsys):
    rules = tmp_path / "rules.yaml"
    rules.write_text(HEAD + f"state_dir: {tmp_path / 'state'}\n")
    assert _cli(["outbox", "list", "-c", str(rules)]) == 0
    assert "no outbox yet" in capsys.readouterr().out
    db = open_state(tmp_path / "state")
    outbox = db.outbox
    outbox.add(note(1), "hook", 1.0)
    dead = outbox.add(note(2), "hook", 1.0, status=DEAD, error="refused: HTTP 400")
    assert _cli(["outbox", "list", "-c", str(rules)]) == 0
    out = capsys.readouterr().out
    assert "equity-low [firing] alert 1" in out
    assert "alert 2" not in out
    assert "1 pending, 1 dead" in out
    assert _cli(["outbox", "list", "--dead", "-c", str(rules)]) == 0
    out = capsys.readouterr().out
    assert "alert 2" in out
    assert "last error: refused: HTTP 400" in out
    assert _cli(["outbox", "retry", str(dead), "-c", str(rules)]) == 0
    assert f"re-queued #{dead} to hook: alert 2" in capsys.readouterr().out
    assert [r.note.title for r in outbox.due("hook", 10)] == ["alert 1", "alert 2"]
    with pytest.raises(StateError, match="only dead rows can be retried"):
        _cli(["outbox", "retry", str(dead), "-c", str(rules)])
    with pytest.raises(StateError, match="no outbox row 99"):
        _cli(["outbox", "retry", "99", "-c", str(rules)])
    db.close()
