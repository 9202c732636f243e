"""The architecture, enforced: data flows one way and a lower part never imports a higher one.

docs/architecture.md explains the parts; this test reads every import of the package (with
`ast`, tests/imports.py) and fails on an arrow that points up, or on a new import circle.
"""

from __future__ import annotations

from tests.imports import Import, cycles, imports, modules, part_of

# Lower number = lower layer. A module may import its own part and any lower part.
LEVELS: dict[str, int] = {
    "core": 0,  # the model that crosses parts, shared utilities; imports nothing of alertbot
    "state": 1,  # persistence behind a typed interface
    "source": 2,  # the Indexer: frames in, events out
    "cluster": 2,  # shards, leases and the leader of replicas sharing the work
    "sim": 3,  # the bundled Indexer simulator (follows source/protocol.py)
    "rules": 3,  # the pure engine: events and time in, notifications out
    "hookspecs": 4,  # the plugin contract notifier plugins implement
    "notify": 4,  # notifier plugins, wording, the outbox and delivery
    "web": 5,  # health, metrics, the dashboard
    "commands": 6,  # the command layer: arguments and output of each command
}
TOP = 6  # composition: config, config_load, plugins, app, cli, jobs, reload, replay, watch, demo
PACKAGE_ROOT = "alertbot"  # alertbot/__init__.py: the version only
# Typing-only arrows allowed upward, each with its reason.
TYPING_EXCEPTIONS = {
    # The plugin contract documents `alertbot_startup(config: Config)`: the whole config.
    ("alertbot.hookspecs", "alertbot.config"),
}


def level(module: str) -> int:
    """The layer of a module (the package root, holding only the version, is the lowest)."""
    if module == PACKAGE_ROOT:
        return -1
    return LEVELS.get(part_of(module), TOP)


def upward(edges: list[Import]) -> list[str]:
    """Every import from a lower layer to a higher one, as `file:line source -> target`."""
    return [
        f"{e.source}:{e.line} -> {e.target}"
        for e in edges
        if level(e.target) > level(e.source)
        and part_of(e.source) != part_of(e.target)
        and not (e.typing_only and (e.source, e.target) in TYPING_EXCEPTIONS)
    ]


def test_no_part_imports_a_higher_part():
    assert upward(imports()) == []


def test_core_imports_nothing_else_of_alertbot():
    edges = [e for e in imports() if part_of(e.source) == "core"]
    assert [f"{e.source} -> {e.target}" for e in edges if part_of(e.target) != "core"] == []


def test_no_import_circles():
    assert cycles(imports()) == []


def test_every_module_belongs_to_a_known_layer():
    # A new subpackage must be placed in LEVELS (and in docs/architecture.md) on purpose.
    subpackages = {part_of(m) for m in modules() if m.count(".") >= 2}
    assert subpackages <= set(LEVELS), subpackages - set(LEVELS)


def test_the_checker_sees_an_upward_arrow():
    # The test itself can fail: an import from rules/ to notify/ is reported.
    arrow = Import("alertbot.rules.engine", "alertbot.notify.base", 1, typing_only=False)
    assert upward([arrow]) == ["alertbot.rules.engine:1 -> alertbot.notify.base"]
    loop = [Import("a.x", "a.y", 1, False), Import("a.y", "a.x", 1, False)]
    assert cycles(loop) == [["a.x", "a.y"]]
