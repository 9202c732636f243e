"""`alertbot notify-test` and `alertbot plugins`, run through their argparse wiring."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest

from alertbot.commands.notify import register
from alertbot.core.errors import AlertbotError
from tests.notify.fakes import FakeHttp

SECRET = "tok-3f9a8b7c6d5e"
REPO_PLUGINS = Path(__file__).parent.parent.parent / "plugins"


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    return int(args.handler(args))


def rules(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "source: {markets: [BTC-USD]}\n"
        f"plugins_dir: {REPO_PLUGINS}\n"
        f"notifiers:\n  hook: {{type: webhook, url: '{url}'}}\n  ops: {{type: console}}\n",
        encoding="utf-8",
    )
    return path


async def test_notify_test_sends_one_message_and_exits_0(http: FakeHttp, tmp_path, capsys) -> None:
    path = rules(tmp_path, http.url(f"/hook?key={SECRET}"))
    code = await asyncio.to_thread(run, "notify-test", "hook", "-c", str(path))
    out = capsys.readouterr().out
    assert code == 0
    assert out == f"hook: webhook http://127.0.0.1:{http.port}/***: ok (HTTP 200)\n"
    (alert,) = http.requests[0].json()["alerts"]
    assert alert["rule"] == "notify-test"
    assert alert["title"] == "[TEST] alertbot notifier hook"
    assert alert["labels"] == {"notifier": "hook"}


async def test_notify_test_failure_exits_1(http: FakeHttp, tmp_path, capsys) -> None:
    http.default = (503, {"Retry-After": "9"}, b"down")
    path = rules(tmp_path, http.url(f"/hook?key={SECRET}"))
    code = await asyncio.to_thread(run, "notify-test", "hook", "-c", str(path))
    out = capsys.readouterr().out
    assert code == 1
    assert out.endswith(": failed (retryable): HTTP 503: down, retry after 9s\n")
    assert SECRET not in out


def test_notify_test_unknown_name(tmp_path) -> None:
    path = rules(tmp_path, "https://example.com/x")
    with pytest.raises(AlertbotError, match=r"no notifier named 'pager' \(notifiers: hook, ops\)"):
        run("notify-test", "pager", "-c", str(path))


def test_plugins_lists_origins_hooks_and_masked_notifiers(tmp_path, capsys) -> None:
    path = rules(tmp_path, f"https://example.com/hook?key={SECRET}")
    assert run("plugins", "-c", str(path)) == 0
    out = capsys.readouterr().out
    assert SECRET not in out
    assert "  console         builtin\n" in out
    assert f"  jsonl_notifier  {REPO_PLUGINS / 'jsonl_notifier.py'}\n" in out
    assert "alertbot_register_notifier_types (notifier types: jsonl)" in out
    assert "alertbot_enrich_alert\n" in out
    assert "hook: webhook https://example.com/*** (batch 100)" in out
    assert "ops: console (stdout) (batch 100)" in out
