"""The one loading path: every problem at once for `check` and `run`, no ${ENV} value in any
message, typed sections, and folders that every command resolves the same way."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from alertbot.cli import main
from alertbot.config_load import check_text, load_config, parse_config
from alertbot.core.errors import ConfigError
from alertbot.web.config import HttpConfig

ROOT = Path(__file__).resolve().parent.parent
MANY = ROOT / "tests/data/bad_rules/many_mistakes.yaml"
SECRET = "hunter2secret"
HEAD = "source: {markets: [BTC-USD]}\nnotifiers: {ops: {type: console}}\n"


def _expected(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        f"{path.parent}/{x.removeprefix('# expect: ')}" for x in lines if x.startswith("# expect")
    ]


def test_check_reports_every_mistake_in_one_run_and_exits_1(capsys) -> None:
    assert main(["check", "-c", str(MANY)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[:-1] == _expected(MANY)
    assert err[-1].endswith(f"{len(_expected(MANY))} problem(s)")


def test_run_refuses_the_same_file_with_the_same_lines_and_exit_2(capsys) -> None:
    assert main(["run", "-c", str(MANY)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == _expected(MANY)
    assert "Traceback" not in err


def test_after_loading_every_section_is_typed() -> None:
    text = HEAD + "http: {listen: '127.0.0.1:9000'}\njobs: {prune_every: 2h}\n"
    config = parse_config(text, "rules.yaml", env={})
    assert isinstance(config.http, HttpConfig)
    assert (config.http.port, config.jobs.prune_every) == (9000, 7200.0)
    assert config.notifiers["ops"].type == "console"


def test_names_outside_the_rules_are_checked_with_the_rest() -> None:
    text = HEAD + (
        "delivery: {fallback: pagr, rate_limits: {nobody: {messages: 1, per: 1m}}}\n"
        "jobs: {digest: {notify: [opz]}}\n"
        "rules: [{name: a, on: account, when: 'equity < 1'}, {name: a, on: fill}]\n"
    )
    keys = [p.key for p in check_text(text, "r.yaml", env={}).problems]
    assert keys == [
        "delivery.fallback",
        "delivery.rate_limits.nobody",
        "jobs.digest.notify[0]",
        "rules[1].name",
    ]


@pytest.mark.parametrize(
    ("section", "text"),
    [
        ("source", "source: {markets: [BTC-USD], network: '${S}'}\n"),
        ("rules", HEAD + "rules: [{name: a, on: account, severity: '${S}'}]\n"),
        (
            "notifiers",
            "source: {markets: [BTC-USD]}\nnotifiers: {x: {type: console, timeout: '${S}'}}\n",
        ),
        ("http", HEAD + "http: {listen: '${S}'}\n"),
        ("jobs", HEAD + "jobs: {prune_every: '${S}'}\n"),
        ("delivery", HEAD + "delivery: {fallback: '${S}'}\n"),
    ],
)
def test_no_env_value_appears_in_any_message(section: str, text: str) -> None:
    (problem,) = check_text(text, "r.yaml", env={"S": SECRET}).problems
    assert problem.key.startswith(section)
    assert SECRET not in str(problem)
    assert "***" in problem.message  # the message would have repeated it


def test_a_broken_plugin_hides_no_other_problem(tmp_path: Path) -> None:
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "oops.py").write_text("raise RuntimeError('boom')\n")
    text = (
        "source: {markets: [BTC-USD]}\nnotifiers: {ops: {type: console, colour: red}}\n"
        "rules: [{name: a, on: account, whem: 1}, {name: b, on: fill, notify: [nope]}]\n"
    )
    keys = [p.key for p in check_text(text, str(tmp_path / "r.yaml"), env={}).problems]
    assert keys == ["plugins_dir", "notifiers.ops.colour", "rules[0].whem", "rules[1].notify[0]"]


def _store(tmp_path: Path) -> Path:
    folder = tmp_path / "conf"
    folder.mkdir()
    config = folder / "rules.yaml"
    config.write_text(
        HEAD + "state_dir: state\nrules: [{name: low, on: account, when: 'equity < 1'}]\n"
    )
    return config


def test_silence_add_from_another_folder_writes_where_run_reads(tmp_path, monkeypatch) -> None:
    from alertbot.state import open_state

    config_file = _store(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("ALERTBOT_STATE_DIR", raising=False)
    assert main(["silence", "add", "-c", str(config_file), "--rule", "low", "--for", "1h"]) == 0
    config = load_config(config_file, env={})
    assert config.state_dir == str(config_file.parent / "state")
    store = open_state(config.state_dir, create=False)  # what `run` opens
    try:
        assert [s.rule for s in store.silences.all()] == ["low"]
    finally:
        store.close()
    assert not (elsewhere / "state").exists()


def test_state_commands_of_a_broken_file_resolve_the_same_folder(tmp_path, monkeypatch) -> None:
    from alertbot.commands.state import configured_state

    config_file = _store(tmp_path)
    config_file.write_text(config_file.read_text() + "bogus: 1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALERTBOT_STATE_DIR", raising=False)
    folder, state, rules = configured_state(str(config_file))
    assert folder == str(config_file.parent / "state")
    assert (state, rules) == (None, None)  # SQLite: the folder is all a broken file can give


def test_env_folders_are_relative_to_the_working_directory(tmp_path, monkeypatch) -> None:
    config_file = _store(tmp_path)
    monkeypatch.chdir(tmp_path)
    env = {"ALERTBOT_STATE_DIR": "here", "ALERTBOT_PLUGINS_DIR": "mine"}
    config = load_config(config_file, env=env)
    assert (config.state_dir, config.plugins_dir) == (
        str(tmp_path / "here"),
        str(tmp_path / "mine"),
    )


def test_a_relative_config_path_resolves_its_folders_once(tmp_path, monkeypatch) -> None:
    from alertbot.plugins import plugins_path

    _store(tmp_path)
    monkeypatch.chdir(tmp_path)
    config = load_config("conf/rules.yaml", env={})
    assert config.state_dir == str(tmp_path / "conf" / "state")
    assert plugins_path("conf/rules.yaml", config.plugins_dir) == tmp_path / "conf" / "plugins"


def test_run_with_a_bad_listen_env_is_refused_not_a_traceback(tmp_path, capsys) -> None:
    config_file = _store(tmp_path)
    with pytest.raises(ConfigError, match="ALERTBOT_HTTP_LISTEN"):
        load_config(config_file, env={"ALERTBOT_HTTP_LISTEN": "nope"})


def test_a_config_built_in_code_refuses_untyped_notifiers() -> None:
    from pydantic import ValidationError

    from alertbot.config import Config

    with pytest.raises(ValidationError, match=r"load the file with alertbot\.config_load"):
        Config.model_validate(
            {"source": {"markets": ["BTC-USD"]}, "notifiers": {"x": {"type": "console"}}}
        )


def test_an_unset_env_variable_is_reported_once_not_again_as_a_bad_name() -> None:
    text = HEAD + "delivery: {fallback: '${UNSET}'}\n"
    (problem,) = check_text(text, "r.yaml", env={}).problems
    assert (problem.key, problem.message) == (
        "delivery.fallback",
        "environment variable UNSET is not set (used as ${UNSET})",
    )


def _models(annotation: object) -> list[type]:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def test_every_config_key_is_documented_in_rules_md() -> None:
    from alertbot.config import Config

    docs = (ROOT / "docs/rules.md").read_text(encoding="utf-8")
    todo, seen, missing = [Config], set(), []
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            key = info.alias or name
            if not re.search(rf"[`{{ ]{re.escape(key)}[`}}:, ]", docs):
                missing.append(f"{model.__name__}.{key}")
            todo.extend(_models(info.annotation))
    assert not missing


def test_a_notifier_refusing_its_config_is_located_with_the_others() -> None:
    text = (
        "source: {markets: [BTC-USD]}\nnotifiers:\n  mail: {type: email, url: 'mailto://${S}'}\n"
        "rules: [{name: a, on: fill, notify: [nope]}]\n"
    )
    problems = check_text(text, "r.yaml", env={"S": SECRET}).problems
    assert [(p.line, p.key) for p in problems] == [(3, "notifiers.mail"), (4, "rules[0].notify[0]")]
    assert "Apprise cannot use this URL" in problems[0].message
    assert SECRET not in "\n".join(str(p) for p in problems)
