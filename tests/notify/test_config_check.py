"""Notifier config errors: every one at once, located, with hints, never showing a secret."""

from __future__ import annotations

import textwrap

import pytest

from alertbot.config_load import check_text, parse_config
from alertbot.core.errors import ConfigError
from alertbot.notifier_setup import build_notifiers
from alertbot.notify.config import WebhookConfig
from alertbot.plugins import make_plugin_manager

TOKEN = "987654:AAE-very_secret_token"
HOOK = "https://hooks.example.com/T0/B0/very-secret-path"
ENV = {"TG_TOKEN": TOKEN, "HOOK_URL": HOOK}
CONFIG = """\
source: {markets: [BTC-USD]}
notifiers:
  tg:
    type: telegram
    bot_token: ${TG_TOKEN}
    timeout: ${TG_TOKEN}
  hook:
    type: webhook
    url: ${HOOK_URL}
    header: {}
  sl:
    type: slak
  mail:
    type: email
    url: http://not-mail
  ok:
    type: slack
    webhook_url: ${HOOK_URL}
"""


def test_every_problem_is_located_and_masked(tmp_path) -> None:
    result = check_text(CONFIG, str(tmp_path / "rules.yaml"), env=ENV)
    lines = [str(p).removeprefix(str(tmp_path) + "/") for p in result.problems]
    assert not result.ok
    assert lines == [
        "rules.yaml:4:5: notifiers.tg.chat_id: required key is missing",
        "rules.yaml:6:14: notifiers.tg.timeout: invalid duration '***': write a number and a"
        " unit, e.g. 500ms, 30s, 2m, 1h, 1d",
        "rules.yaml:10:5: notifiers.hook.header: unknown key 'header'; did you mean 'headers'?",
        "rules.yaml:12:11: notifiers.sl.type: unknown notifier type 'slak'; did you mean 'slack'?",
        "rules.yaml:15:10: notifiers.mail.url: must be a mailto:// or mailtos:// URL",
    ]
    text = "\n".join(lines)
    assert TOKEN not in text
    assert HOOK not in text


def test_missing_type_lists_the_types(tmp_path) -> None:
    text = "source: {markets: [BTC-USD]}\nnotifiers:\n  x: {url: 'http://a'}\n"
    (problem,) = check_text(text, str(tmp_path / "r.yaml"), env={}).problems
    assert problem.key == "notifiers.x.type"
    assert problem.message.startswith("required key is missing (types: apprise, console, email")


def test_a_broken_local_plugin_is_a_check_problem(tmp_path) -> None:
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "oops.py").write_text("def alertbot_rendr(notification):\n    pass\n")
    text = "source: {markets: [BTC-USD]}\n"
    (problem,) = check_text(text, str(tmp_path / "r.yaml"), env={}).problems
    assert problem.key == "plugins_dir"
    assert (
        "oops.py: unknown hook 'alertbot_rendr'; did you mean 'alertbot_render'?" in problem.message
    )


def test_an_explicit_missing_plugins_dir_is_reported(tmp_path) -> None:
    text = "source: {markets: [BTC-USD]}\nplugins_dir: nowhere\n"
    (problem,) = check_text(text, str(tmp_path / "r.yaml"), env={}).problems
    assert str(problem).endswith("plugins_dir: " + str(tmp_path / "nowhere") + " is not a folder")


def test_run_refuses_the_same_notifier_problems_without_a_secret() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(CONFIG), "rules.yaml", env=ENV)
    keys = [p.key for p in info.value.problems]
    assert "notifiers.tg.chat_id" in keys
    assert TOKEN not in str(info.value)
    assert HOOK not in str(info.value)


def test_notifiers_are_typed_by_their_plugin_model() -> None:
    text = "source: {markets: [BTC-USD]}\nnotifiers:\n  hook: {type: webhook, url: '${HOOK_URL}'}\n"
    config = parse_config(text, "rules.yaml", env=ENV)
    hook = config.notifiers["hook"]
    assert isinstance(hook, WebhookConfig)
    assert (hook.type, hook.url.get_secret_value()) == ("webhook", HOOK)


def test_defaults_and_overrides_of_batch_and_rate() -> None:
    text = (
        "source: {markets: [BTC-USD]}\nnotifiers:\n"
        "  a: {type: telegram, bot_token: '1:x', chat_id: 5}\n"
        "  b: {type: telegram, bot_token: '1:x', chat_id: '@chan', max_batch: 3,"
        " rate: {messages: 5, per: 1m}, timeout: 2s}\n"
    )
    built = build_notifiers(parse_config(text, "r.yaml", env={}), make_plugin_manager(None, env={}))
    a, b = built["a"], built["b"]
    assert (a.max_batch, a.rate, a.timeout) == (10, (20, 60.0), 10.0)
    assert (b.max_batch, b.rate, b.timeout) == (3, (5, 60.0), 2.0)
