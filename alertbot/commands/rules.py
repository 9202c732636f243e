"""The rule commands for the CLI: check, test, silence add|list|expire (`register` wires them)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from alertbot.commands.args import config_arg
from alertbot.commands.state import configured_state
from alertbot.config_load import check_file, summary
from alertbot.core.durations import format_duration, parse_duration
from alertbot.core.errors import ConfigError
from alertbot.core.model import iso_utc
from alertbot.rules import Engine
from alertbot.rules.index import explain
from alertbot.rules.silences import SilenceError, SilenceStore
from alertbot.rules.testing import default_tests_path, run_file
from alertbot.state import StateStore, open_state

OK, FAILED = 0, 1


def register(subparsers: Any) -> None:
    """Add `check`, `test` and `silence` to the CLI's subparsers."""
    check = subparsers.add_parser("check", help="validate a rules file offline")
    config_arg(check)
    check.add_argument(
        "--explain", action="store_true", help="say which rules are indexed, and on what labels"
    )
    check.set_defaults(handler=cmd_check)
    test = subparsers.add_parser("test", help="run rule unit tests (events in, alerts out)")
    config_arg(test)
    test.add_argument("tests", nargs="?", help="tests file (default: <config>_test.yaml)")
    test.set_defaults(handler=cmd_test)
    _register_silence(subparsers)


def _register_silence(subparsers: Any) -> None:
    silence = subparsers.add_parser("silence", help="mute alerts for a while")
    config_arg(silence)
    actions = silence.add_subparsers(dest="silence_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a silence")
    config_arg(add)
    add.add_argument("--rule", required=True, help="rule name (a glob such as 'order-*' works)")
    add.add_argument("--label", action="append", default=[], metavar="K=V", help="repeatable")
    add.add_argument("--for", dest="duration", required=True, help="how long, e.g. 2h")
    add.add_argument("--comment", default="", help="why")
    add.set_defaults(handler=cmd_silence_add)
    listing = actions.add_parser("list", help="list active silences")
    config_arg(listing)
    listing.add_argument("--all", action="store_true", help="include expired silences")
    listing.set_defaults(handler=cmd_silence_list)
    expire = actions.add_parser("expire", help="end a silence now")
    config_arg(expire)
    expire.add_argument("id", help="silence id (a unique prefix is enough)")
    expire.set_defaults(handler=cmd_silence_expire)


def cmd_check(args: argparse.Namespace) -> int:
    """alertbot check: every problem as file:LINE:COL: message, exit 1; else a summary."""
    result = check_file(args.config)
    for warning in result.warnings:
        print(f"{warning} (warning)", file=sys.stderr)
    if result.config is None or result.problems:
        for problem in result.problems:
            print(problem, file=sys.stderr)
        print(f"{args.config}: {len(result.problems)} problem(s)", file=sys.stderr)
        return FAILED
    print(f"{args.config}: OK, {summary(result.config)}")
    if getattr(args, "explain", False):
        print("\n".join(explain(Engine(result.config).index)))
    return OK


def cmd_test(args: argparse.Namespace) -> int:
    """alertbot test: run each case, print PASS/FAIL and a diff; exit 1 on any failure."""
    result = check_file(args.config)
    if result.config is None or result.problems:
        for problem in result.problems:
            print(problem, file=sys.stderr)
        return FAILED
    tests = Path(args.tests) if args.tests else default_tests_path(args.config)
    if tests is None:
        print(f"no tests file: pass one, or create {Path(args.config).stem}_test.yaml beside "
              f"{args.config}", file=sys.stderr)  # fmt: skip
        return FAILED
    try:
        results = run_file(result.config, tests)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return FAILED
    failed = [r for r in results if not r.passed]
    for r in results:
        print(f"{'PASS' if r.passed else 'FAIL'}  {r.name}")
        for line in r.diff:
            print(f"    {line}")
    print(f"{tests}: {len(results)} tests, {len(failed)} failed")
    return FAILED if failed else OK


def cmd_silence_add(args: argparse.Namespace) -> int:
    """alertbot silence add."""
    try:
        duration = parse_duration(args.duration)
        labels = dict(_label(item) for item in args.label)
    except ValueError as exc:
        print(f"alertbot silence add: {exc}", file=sys.stderr)
        return FAILED
    state, rules = _state(args.config)
    if rules is not None and not any(fnmatchcase(r, args.rule) for r in rules):
        state.close()
        print(f"no rule matches {args.rule!r}; rules: {', '.join(rules)}", file=sys.stderr)
        return FAILED
    author = os.environ.get("USER") or getpass.getuser()
    try:
        store = SilenceStore(state.silences.all())
        now = time.time()
        silence = store.add(args.rule, labels, duration, now, comment=args.comment,
                            created_by=author)  # fmt: skip
        state.silences.put(silence.to_record(), now)
    finally:
        state.close()
    print(f"silence {silence.id}: {args.rule} {labels or ''} until {iso_utc(silence.ends_at)}")
    return OK


def cmd_silence_list(args: argparse.Namespace) -> int:
    """alertbot silence list."""
    state, _ = _state(args.config)
    now = time.time()
    try:
        silences = SilenceStore(state.silences.all()).listing(now, expired=args.all)
    finally:
        state.close()
    if not silences:
        print("no silences")
    for s in silences:
        left = f"{format_duration(s.ends_at - now)} left" if s.active(now) else "expired"
        labels = " ".join(f"{k}={v}" for k, v in s.labels.items())
        print(f"{s.id}  {s.rule}  {labels or '-'}  until {iso_utc(s.ends_at)} ({left})"
              f"  {s.created_by}  {s.comment}".rstrip())  # fmt: skip
    return OK


def cmd_silence_expire(args: argparse.Namespace) -> int:
    """alertbot silence expire ID."""
    state, _ = _state(args.config)
    try:
        now = time.time()
        silence = SilenceStore(state.silences.all()).expire(args.id, now)
        state.silences.put(silence.to_record(), now)
    except SilenceError as exc:
        print(f"alertbot silence expire: {exc}", file=sys.stderr)
        return FAILED
    finally:
        state.close()
    print(f"silence {silence.id} expired")
    return OK


def _label(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ValueError(f"--label wants key=value, got {item!r}")
    return key.strip(), value.strip()


def _state(config_path: str) -> tuple[StateStore, list[str] | None]:
    """The store `run` uses and the rule names; a broken config still works (SQLite only)."""
    state_dir, config, rules = configured_state(config_path)
    return open_state(state_dir, config=config), rules
