"""The plugin manager: load order, entry points, local files, disabling, validation, isolation."""

from __future__ import annotations

import importlib.metadata
import logging
import sys
import textwrap
from pathlib import Path

import pytest

from alertbot.core.errors import PluginError
from alertbot.plugins import BUILTIN_PLUGINS, make_plugin_manager
from tests.notify.fakes import ADDRESS, note

REPO_PLUGINS = Path(__file__).parent.parent / "plugins"
BUILTIN = [name for name, _ in BUILTIN_PLUGINS]


def write(folder: Path, name: str, code: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    return path


def entry_point(tmp_path: Path, monkeypatch, name: str, code: str) -> importlib.metadata.EntryPoint:
    """An installed-package plugin: a module on sys.path and an entry point naming it."""
    pkg = tmp_path / "site"
    pkg.mkdir(exist_ok=True)
    write(pkg, f"{name}_module.py", code)
    monkeypatch.syspath_prepend(str(pkg))
    monkeypatch.delitem(sys.modules, f"{name}_module", raising=False)
    return importlib.metadata.EntryPoint(name, f"{name}_module", "alertbot")


RENDER = """
    from alertbot.hookspecs import hookimpl

    @hookimpl
    def alertbot_render(notification, notifier_type):
        return ("{who}", notifier_type)
"""


def test_order_builtin_then_entry_points_then_files(tmp_path, monkeypatch) -> None:
    write(tmp_path, "zeta.py", RENDER.format(who="file"))
    write(tmp_path, "_private.py", "raise RuntimeError('never imported')")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "nested.py", "raise RuntimeError('never imported')")
    ep = entry_point(tmp_path, monkeypatch, "installed", RENDER.format(who="entry point"))
    plugins = make_plugin_manager(tmp_path, env={}, entry_points=[ep])
    names = [i.name for i in plugins.infos]
    assert names == [*BUILTIN, "installed", "zeta"]
    origins = {i.name: i.origin for i in plugins.infos}
    assert origins["console"] == "builtin"
    assert origins["installed"] == "entry point installed = installed_module"
    assert origins["zeta"] == str(tmp_path / "zeta.py")
    # later-loaded plugins are asked first: a local file overrides an installed package
    assert plugins.render(note(), "slack") == ("file", "slack")


def test_disable_by_name_skips_import(tmp_path) -> None:
    write(tmp_path, "broken.py", "raise RuntimeError('must not be imported')")
    plugins = make_plugin_manager(tmp_path, env={"ALERTBOT_DISABLE_PLUGINS": "broken, slack"})
    disabled = {i.name for i in plugins.infos if i.disabled}
    assert disabled == {"broken", "slack"}
    assert "slack" not in plugins.notifier_types()
    assert "telegram" in plugins.notifier_types()


def test_misspelled_hook_names_file_and_hook(tmp_path) -> None:
    path = write(
        tmp_path,
        "typo.py",
        """
        from alertbot.hookspecs import hookimpl

        @hookimpl
        def alertbot_enrich_alrt(notification):
            return None
        """,
    )
    with pytest.raises(PluginError) as info:
        make_plugin_manager(tmp_path, env={})
    message = str(info.value)
    assert str(path) in message
    assert "unknown hook 'alertbot_enrich_alrt'; did you mean 'alertbot_enrich_alert'?" in message


def test_unmarked_misspelled_hook_is_caught_too(tmp_path) -> None:
    write(tmp_path, "typo2.py", "def alertbot_startp(config):\n    pass\n")
    with pytest.raises(PluginError, match=r"typo2\.py: unknown hook 'alertbot_startp'"):
        make_plugin_manager(tmp_path, env={})


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("x = (", "SyntaxError"),
        ("import no_such_module_here", "ModuleNotFoundError"),
        ("async def alertbot_render(notification, notifier_type):\n    return None\n", "plain def"),
        ("def alertbot_render(notification, notifier, extra):\n    return None\n", "extra"),
    ],
)
def test_bad_plugins_are_plugin_errors_naming_the_file(tmp_path, code, expected) -> None:
    write(tmp_path, "bad.py", code)
    with pytest.raises(PluginError, match=expected) as info:
        make_plugin_manager(tmp_path, env={})
    assert str(tmp_path / "bad.py") in str(info.value)


def test_a_name_clash_with_a_builtin_is_refused(tmp_path) -> None:
    write(tmp_path, "slack.py", "")
    with pytest.raises(PluginError, match="'slack' is already used by builtin"):
        make_plugin_manager(tmp_path, env={})


def test_a_duplicate_notifier_type_is_refused(tmp_path) -> None:
    write(
        tmp_path,
        "dup.py",
        """
        from alertbot.notify.builtin.console import ConsoleNotifier

        def alertbot_register_notifier_types(register):
            register(ConsoleNotifier)
        """,
    )
    plugins = make_plugin_manager(tmp_path, env={})
    with pytest.raises(
        PluginError, match="'console' is registered by two plugins: dup and console"
    ):
        plugins.notifier_types()


def test_a_failing_hook_is_logged_and_the_others_still_run(tmp_path, caplog) -> None:
    write(tmp_path, "aaa_boom.py", "def alertbot_enrich_alert(notification):\n    1 / 0\n")
    write(
        tmp_path, "bbb_fine.py", "def alertbot_enrich_alert(notification):\n    return {'x': 1}\n"
    )
    write(tmp_path, "ccc_rude.py", "def alertbot_enrich_alert(notification):\n    return 'oops'\n")
    plugins = make_plugin_manager(tmp_path, env={})
    with caplog.at_level(logging.ERROR, logger="alertbot.plugins"):
        enriched = plugins.enrich(note())
    assert enriched.labels["x"] == "1"
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("plugin aaa_boom: alertbot_enrich_alert failed") for m in messages)
    assert any("plugin ccc_rude" in m and "not a mapping" in m for m in messages)


def test_enrichment_never_rewrites_rule_labels(tmp_path) -> None:
    write(
        tmp_path,
        "a.py",
        "def alertbot_enrich_alert(notification):\n    return {'address': 'x', 'k': 'a'}\n",
    )
    write(tmp_path, "b.py", "def alertbot_enrich_alert(notification):\n    return {'k': 'b'}\n")
    enriched = make_plugin_manager(tmp_path, env={}).enrich(note())
    assert enriched.labels["address"] == ADDRESS
    assert enriched.labels["k"] == "b"  # b loaded last, so asked first
    assert enriched.fingerprint == note().fingerprint


async def test_startup_and_shutdown_await_what_plugins_return(tmp_path, caplog) -> None:
    write(
        tmp_path,
        "life.py",
        """
        import asyncio
        seen = []

        async def alertbot_startup(config):
            await asyncio.sleep(0)
            seen.append(("start", config))

        def alertbot_shutdown():
            seen.append("stop")
        """,
    )
    write(
        tmp_path,
        "life_slow.py",
        "import asyncio\nasync def alertbot_shutdown():\n    await asyncio.Event().wait()\n",
    )
    write(
        tmp_path, "life_bad.py", "async def alertbot_startup(config):\n    raise OSError('nope')\n"
    )
    plugins = make_plugin_manager(tmp_path, env={})
    await plugins.startup("CONFIG")  # type: ignore[arg-type]
    await plugins.shutdown(per_hook=0.05)
    life = sys.modules["alertbot_local_plugins.life"]
    assert life.seen == [("start", "CONFIG"), "stop"]
    text = caplog.text
    assert "plugin life_bad: alertbot_startup failed" in text
    assert "plugin life_slow: alertbot_shutdown took longer than 0.05s" in text


def test_example_plugins_load_from_the_folder() -> None:
    plugins = make_plugin_manager(REPO_PLUGINS, env={})
    assert {"explorer_links", "jsonl_notifier"} <= {i.name for i in plugins.infos}
    assert "jsonl" in plugins.notifier_types()
    enriched = plugins.enrich(note())
    assert enriched.labels["explorer"] == f"https://www.mintscan.io/dydx/address/{ADDRESS}"
    assert plugins.enrich(note(labels={"address": "not-an-address"})).labels == {
        "address": "not-an-address"
    }


async def test_jsonl_example_appends_one_line_per_notification(tmp_path) -> None:
    import json

    from alertbot.config_load import parse_config
    from alertbot.notifier_setup import build_notifiers

    out = tmp_path / "alerts.jsonl"
    config = parse_config(
        f"source: {{markets: [BTC-USD]}}\nnotifiers: {{archive: {{type: jsonl, path: '{out}'}}}}\n",
        "rules.yaml",
        env={},
    )
    notifiers = build_notifiers(config, make_plugin_manager(REPO_PLUGINS, env={}))
    archive = notifiers["archive"]
    assert (await archive.send([note(), note(rule="other")])).ok
    assert (await archive.send([note(rule="third")])).ok
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["rule"] for r in rows] == ["equity-low", "other", "third"]
    assert rows[0]["starts_at"] == "2023-11-14T22:13:20.000Z"


def test_every_hook_is_documented_and_tested() -> None:
    import inspect as insp

    from alertbot import hookspecs

    docs = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text(encoding="utf-8")
    tests = Path(__file__).read_text(encoding="utf-8")
    hooks = [n for n in dir(hookspecs) if n.startswith("alertbot_")]
    assert len(hooks) == 5
    for name in hooks:
        spec = getattr(hookspecs, name)
        doc = insp.getdoc(spec) or ""
        for param in insp.signature(spec).parameters:
            assert f":param {param}:" in doc, (name, param)
        assert f"### `{name}(" in docs, name
        assert name in tests.replace("test_every_hook_is_documented_and_tested", ""), name
