"""`alertbot check`: bad-config fixtures with their expected messages, exit codes, summary."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from alertbot.cli import main
from alertbot.config_load import check_file, load_config
from alertbot.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
BAD = sorted((ROOT / "tests" / "data" / "bad_rules").glob("*.yaml"))
LOCATED = re.compile(r"^[^:]+\.yaml:\d+:\d+: ")


def expected(path: Path) -> list[str]:
    return [
        line[len("# expect: ") :]
        for line in path.read_text().splitlines()
        if line.startswith("# expect: ")
    ]


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_fixture_reports_exactly_the_expected_problems(path, monkeypatch):
    monkeypatch.chdir(path.parent)
    result = check_file(path.name)
    assert [str(p) for p in result.problems] == expected(path)
    assert expected(path)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_check_command_prints_file_line_column_and_exits_1(path, capsys):
    assert main(["check", "-c", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    problems = [line for line in err if not line.endswith("problem(s)")]
    assert problems
    assert all(LOCATED.match(line) for line in problems), problems


def test_check_passes_on_the_shipped_rules_and_prints_a_summary(capsys):
    assert main(["check", "-c", str(ROOT / "rules.yaml")]) == 0
    out = capsys.readouterr().out
    assert "OK" in out
    assert "account: equity-low (level), equity-drop (change)" in out
    assert "order.filled: order-filled (event)" in out
    assert "notifier ops: console" in out


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    text = (ROOT / "tests/data/bad_rules/unknown_field.yaml").read_text()
    text += "  - {name: b, on: market, when: oracle_prise > 1, notify: [nope]}\n"
    (tmp_path / "r.yaml").write_text(text)
    problems = [str(p) for p in check_file(tmp_path / "r.yaml").problems]
    assert len(problems) == 3
    assert any("did you mean 'oracle_price'" in p for p in problems)
    assert any("no notifier named 'nope'" in p for p in problems)


def test_warnings_do_not_fail(tmp_path, capsys):
    text = (ROOT / "tests/data/bad_rules/unknown_key.yaml").read_text()
    text = text.replace("    whem: equity < 1000\n", "    mode: state\n")
    (tmp_path / "r.yaml").write_text(text)
    assert main(["check", "-c", str(tmp_path / "r.yaml")]) == 0
    assert "never resolves (warning)" in capsys.readouterr().err


def test_load_config_raises_located_problems():
    with pytest.raises(ConfigError) as info:
        load_config(ROOT / "tests/data/bad_rules/unknown_notifier.yaml")
    assert info.value.problems[0].line == 9


def test_missing_file_is_a_problem_not_a_crash(tmp_path, capsys):
    assert main(["check", "-c", str(tmp_path / "nope.yaml")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_engine_refuses_what_check_refuses():
    from alertbot.config_load import parse_config
    from alertbot.rules import Engine
    from alertbot.rules.config import RuleConfig

    text = (ROOT / "tests/data/bad_rules/unknown_field.yaml").read_text()
    with pytest.raises(ConfigError, match="unknown field 'equty'"):
        parse_config(text, "rules.yaml", env={})
    valid = parse_config(text.split("rules:")[0], "rules.yaml", env={})
    rule = RuleConfig.model_validate({"name": "low", "on": "account", "when": "equty < 1"})
    with pytest.raises(ConfigError, match="unknown field 'equty'"):  # built in code, not loaded
        Engine(valid.model_copy(update={"rules": [rule]}))


def test_shipped_rules_yaml_watches_the_contract_subaccount(tmp_path):
    config = load_config(ROOT / "rules.yaml")
    assert [str(s) for s in config.source.subaccounts] == [
        "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art/0"
    ]
    assert config.source.markets == ["BTC-USD", "ETH-USD"]
    shutil.copy(ROOT / "rules.yaml", tmp_path / "rules.yaml")  # check is location-independent
    assert check_file(tmp_path / "rules.yaml").ok


def test_check_explain_says_which_rules_are_indexed_and_on_what(capsys):
    assert main(["check", "-c", str(ROOT / "bench" / "rules-100.yaml"), "--explain"]) == 0
    out = capsys.readouterr().out
    summary, _, explained = out.partition("index: ")
    assert "OK" in summary
    assert explained.startswith("90 of 100 rule(s) filed under label values")
    assert "r0000-market                market: indexed on ticker == 'AAVE-USD'" in explained
    assert "r0009-account               account: indexed on address == 'dydx1" in explained
    assert "r0018-block                 block: every event (no `when`)" in explained
