"""`alertbot test` pass/fail and `alertbot silence add|list|expire` through the real CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

from alertbot.cli import main

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests" / "data" / "rules_test.yaml"


def test_shipped_rule_tests_pass(capsys):
    assert main(["test", "-c", str(ROOT / "rules.yaml"), str(TESTS)]) == 0
    out = capsys.readouterr().out
    assert "0 failed" in out
    assert "FAIL" not in out


def test_without_tests_argument_the_default_file_is_found(capsys):
    assert main(["test", "-c", str(ROOT / "rules.yaml")]) == 0
    assert "rules_test.yaml" in capsys.readouterr().out


def test_a_failing_expectation_prints_a_diff_and_exits_1(tmp_path, capsys):
    text = TESTS.read_text().replace('message: "Equity 950 USDC"', 'message: "Equity 951 USDC"')
    (tmp_path / "t.yaml").write_text(text)
    assert main(["test", "-c", str(ROOT / "rules.yaml"), str(tmp_path / "t.yaml")]) == 1
    out = capsys.readouterr().out
    assert "FAIL  equity-low fires after 30s" in out
    assert "-  message: Equity 951 USDC" in out
    assert "+  message: Equity 950 USDC" in out


def test_an_unexpected_notification_fails(tmp_path, capsys):
    text = (
        "tests:\n  - name: surprise\n    events: [{at: 0s, kind: order.filled}]\n    expect: []\n"
    )
    (tmp_path / "t.yaml").write_text(text)
    assert main(["test", "-c", str(ROOT / "rules.yaml"), str(tmp_path / "t.yaml")]) == 1
    assert "+  rule: order-filled" in capsys.readouterr().out


def test_a_bad_tests_file_is_located(tmp_path, capsys):
    (tmp_path / "t.yaml").write_text("tests:\n  - name: x\n    evnts: []\n")
    assert main(["test", "-c", str(ROOT / "rules.yaml"), str(tmp_path / "t.yaml")]) == 1
    assert "t.yaml:3:5: tests[0].evnts: unknown key 'evnts'" in capsys.readouterr().err


def test_silence_add_list_expire(tmp_path, capsys, monkeypatch):
    shutil.copy(ROOT / "rules.yaml", tmp_path / "rules.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALERTBOT_STATE_DIR", raising=False)
    args = ["silence", "add", "--rule", "equity-low", "--label", "subaccount=0", "--for", "2h"]
    assert main([*args, "--comment", "depositing"]) == 0
    silence_id = capsys.readouterr().out.split()[1].rstrip(":")
    assert (tmp_path / ".alertbot" / "alertbot.db").exists()  # silences live in the store
    assert not (tmp_path / ".alertbot" / "silences.json").exists()
    assert main(["silence", "list"]) == 0
    listed = capsys.readouterr().out
    assert silence_id in listed
    assert "subaccount=0" in listed
    assert "depositing" in listed
    assert main(["silence", "expire", silence_id[:4]]) == 0
    assert main(["silence", "list"]) == 0
    assert "no silences" in capsys.readouterr().out
    assert main(["silence", "list", "--all"]) == 0
    assert "expired" in capsys.readouterr().out


def test_silence_add_refuses_unknown_rules_and_bad_labels(tmp_path, capsys, monkeypatch):
    shutil.copy(ROOT / "rules.yaml", tmp_path / "rules.yaml")
    monkeypatch.chdir(tmp_path)
    assert main(["silence", "add", "--rule", "equity-lo", "--for", "1h"]) == 1
    assert "no rule matches 'equity-lo'" in capsys.readouterr().err
    assert main(["silence", "add", "--rule", "equity-low", "--label", "x", "--for", "1h"]) == 1
    assert main(["silence", "add", "--rule", "equity-low", "--for", "soon"]) == 1
    assert main(["silence", "expire", "nothing"]) == 1
