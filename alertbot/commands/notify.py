"""`alertbot plugins` and `alertbot notify-test NAME` (`register` adds them to the CLI)."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from alertbot.commands.args import config_arg
from alertbot.config import Config
from alertbot.config_load import load_config
from alertbot.core.errors import AlertbotError
from alertbot.core.model import Notification, notice
from alertbot.core.secrets import scrub_known
from alertbot.notifier_setup import build_notifiers
from alertbot.notify.base import Notifier, SendResult, guarded_send
from alertbot.plugins import DISABLE_ENV, Plugins, make_plugin_manager, plugins_path

OK, FAILED = 0, 1


def register(subparsers: Any) -> None:
    """Add `plugins` and `notify-test` to the CLI's subparsers."""
    plugins = subparsers.add_parser("plugins", help="list plugins, their hooks and notifiers")
    config_arg(plugins)
    plugins.set_defaults(handler=cmd_plugins)
    test = subparsers.add_parser("notify-test", help="send one test message through a notifier")
    config_arg(test)
    test.add_argument("name", help="the notifier's name under `notifiers:`")
    test.set_defaults(handler=cmd_notify_test)


def load_plugins(config_file: str, config: Config | None) -> Plugins:
    """Plugins for this config (its plugins_dir, relative to the file), or ./plugins without one."""
    folder = config.plugins_dir if config else "plugins"
    return make_plugin_manager(plugins_path(config_file, folder))


def cmd_plugins(args: argparse.Namespace) -> int:
    """alertbot plugins: each plugin, where it came from, its hooks; then the notifiers."""
    config = load_config(args.config) if Path(args.config).exists() else None
    plugins = load_plugins(args.config, config)
    print(plugin_table(plugins))
    if config is not None:
        print(f"\nnotifiers in {args.config}:")
        for line in notifier_lines(build_notifiers(config, plugins)):
            print(f"  {line}")
    return OK


def plugin_table(plugins: Plugins) -> str:
    """One row per plugin in load order (a later plugin's hooks are called first)."""
    owners: dict[str, list[str]] = {}
    for kind, plugin in plugins.type_owners().items():
        owners.setdefault(plugin, []).append(kind)
    width = max((len(i.name) for i in plugins.infos), default=4)
    lines = ["plugins (load order; hooks of later ones run first):"]
    for info in plugins.infos:
        if info.disabled:
            what = f"disabled by {DISABLE_ENV}"
        else:
            what = ", ".join(info.hooks) or "no hooks"
            if info.name in owners:
                what += f" (notifier types: {', '.join(owners[info.name])})"
        lines.append(f"  {info.name:<{width}}  {info.origin}\n  {'':<{width}}    {what}")
    return "\n".join(lines)


def notifier_lines(notifiers: dict[str, Notifier]) -> list[str]:
    """`name  type  masked target  batch/rate` per notifier."""
    out = []
    for name, notifier in notifiers.items():
        rate = f", at most {notifier.rate[0]} per {notifier.rate[1]:g}s" if notifier.rate else ""
        out.append(f"{name}: {notifier.describe()} (batch {notifier.max_batch}{rate})")
    return out


def test_notification(name: str, now: float) -> Notification:
    """A harmless, clearly labelled notification for `notify-test`."""
    title = f"[TEST] alertbot notifier {name}"
    message = f"A test message sent by `alertbot notify-test {name}`. Nothing is wrong."
    return notice("notify-test", "info", title, message, (name,), now, {"notifier": name})


def cmd_notify_test(args: argparse.Namespace) -> int:
    """alertbot notify-test NAME: exit 0 when the service accepted the message, 1 otherwise."""
    config = load_config(args.config)
    plugins = load_plugins(args.config, config)
    notifiers = build_notifiers(config, plugins)
    if args.name not in notifiers:
        known = ", ".join(notifiers) or "none"
        raise AlertbotError(f"no notifier named {args.name!r} (notifiers: {known})")
    notifier = notifiers[args.name]
    note = plugins.enrich(test_notification(args.name, time.time()))
    result = asyncio.run(_send_once(notifier, note))
    print(scrub_known(f"{args.name}: {notifier.describe()}: {describe_result(result)}"))
    return OK if result.ok else FAILED


async def _send_once(notifier: Notifier, note: Notification) -> SendResult:
    try:
        return await guarded_send(notifier, [note])
    finally:
        await notifier.close()


def describe_result(result: SendResult) -> str:
    """`ok`, or why not and whether a retry could help (already masked by the notifier)."""
    if result.ok:
        return "ok" + (f" ({result.detail})" if result.detail else "")
    kind = "permanent failure" if result.permanent else "failed (retryable)"
    wait = f", retry after {result.retry_after:g}s" if result.retry_after is not None else ""
    return f"{kind}: {result.detail}{wait}"
