"""`alertbot test`: promtool-style rule tests. Events at times in, expected notifications out."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from alertbot.core.durations import Duration
from alertbot.core.errors import ConfigError, Problem
from alertbot.core.events import KINDS
from alertbot.core.located import load_located, problems_from_validation
from alertbot.core.model import Event, Notification
from alertbot.core.strict import Strict
from alertbot.rules.config import FieldName, RuleSet
from alertbot.rules.engine import Engine
from alertbot.rules.samples import AT, sample_event
from alertbot.rules.silences import SilenceStore

COMPARED = ("at", "rule", "status", "severity", "labels", "title", "message", "alerts", "notify")


class EventSpec(Strict):
    """One input event: its kind, time (offset from start), and fields over the kind's sample."""

    at: Duration
    kind: str
    fields: dict[str, Any] = {}
    sample: bool = True  # False: the event carries only `fields`
    conn: int | None = None


class SilenceSpec(Strict):
    """A silence in force from `at` for `for`."""

    rule: str
    labels: dict[FieldName, str] = {}
    at: Duration = 0.0
    for_: Duration = Field(alias="for")


class Expected(Strict):
    """An expected notification; only the keys given are compared."""

    at: Duration | None = None
    rule: str | None = None
    status: str | None = None
    severity: str | None = None
    labels: dict[str, str] | None = None
    title: str | None = None
    message: str | None = None
    alerts: int | None = None  # members of a grouped notification (0 when not grouped)
    notify: list[str] | None = None


class Case(Strict):
    """One test: events in, notifications expected, the clock ticking every `tick` until `until`."""

    name: str
    events: list[EventSpec] = []
    silences: list[SilenceSpec] = []
    until: Duration | None = None  # default: one minute after the last event
    tick: Duration | None = None
    expect: list[Expected] = []


class TestFile(Strict):
    """A whole tests file."""

    start: float = AT  # unix seconds of offset 0
    tick: Duration = 1.0
    tests: list[Case]


@dataclass
class CaseResult:
    """Outcome of one case: pass, or the diff of expected and actual notifications."""

    name: str
    passed: bool
    diff: list[str]


def load_tests(path: str | os.PathLike[str]) -> TestFile:
    """Parse a tests file; raise ConfigError with located problems."""
    file = str(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(file, 0, 0, "", f"cannot read: {exc.strerror}")]) from None
    located = load_located(text, file, env={})
    if located.problems:
        raise ConfigError(located.problems)
    try:
        tests = TestFile.model_validate(located.data)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation(exc, located, model=TestFile)) from None
    problems = [
        located.problem(("tests", i, "events", j, "kind"), f"unknown event kind {ev.kind!r}")
        for i, case in enumerate(tests.tests)
        for j, ev in enumerate(case.events)
        if ev.kind not in KINDS
    ]
    if problems:
        raise ConfigError(problems)
    return tests


def run_case(config: RuleSet, case: Case, start: float, default_tick: float) -> CaseResult:
    """Replay the case's events through a fresh engine on a simulated clock; compare."""
    store = SilenceStore()
    for s in case.silences:
        store.add(s.rule, s.labels, s.for_, start + s.at, id=f"test{len(store.silences)}")
    engine = Engine(config, silences=store)
    actual = _simulate(engine, case, start, case.tick or default_tick)
    expected = [_project_expected(e) for e in case.expect]
    got = [_project(n, start, e) for n, e in zip(actual, case.expect, strict=False)]
    got += [_project(n, start, None) for n in actual[len(case.expect) :]]
    if got == expected:
        return CaseResult(case.name, True, [])
    diff = difflib.unified_diff(_lines(expected), _lines(got), "expected", "actual", lineterm="")
    return CaseResult(case.name, False, list(diff))


def _simulate(engine: Engine, case: Case, start: float, step: float) -> list[Notification]:
    events = sorted(case.events, key=lambda e: e.at)
    until = case.until if case.until is not None else (events[-1].at if events else 0.0) + 60.0
    out: list[Notification] = []
    i, t = 0, 0.0
    while t <= until + 1e-9:
        while i < len(events) and events[i].at <= t:
            out.extend(engine.process(_event(events[i], start), start + events[i].at))
            i += 1
        out.extend(engine.tick(start + t))
        t = round(t + step, 6)
    return out


def _event(spec: EventSpec, start: float) -> Event:
    event = sample_event(spec.kind, start + spec.at) if spec.sample else None
    data = dict(event.data) if event else {}
    data.update(spec.fields)
    conn = spec.conn if spec.conn is not None else (event.conn if event else -1)
    return Event(spec.kind, start + spec.at, data, conn)


def _project_expected(exp: Expected) -> dict[str, Any]:
    return {k: v for k, v in exp.model_dump().items() if v is not None}


def _project(n: Notification, start: float, exp: Expected | None) -> dict[str, Any]:
    full: dict[str, Any] = {
        "at": round(n.at - start, 6),
        "rule": n.rule,
        "status": n.status,
        "severity": n.severity,
        "labels": n.labels,
        "title": n.title,
        "message": n.message,
        "alerts": len(n.alerts),
        "notify": list(n.notify),
    }
    keys = _project_expected(exp).keys() if exp is not None else ("at", "rule", "status", "title")
    return {k: full[k] for k in COMPARED if k in keys}


def _lines(items: list[dict[str, Any]]) -> list[str]:
    text = (
        yaml.safe_dump(items, sort_keys=False, allow_unicode=True, width=100) if items else "[]\n"
    )
    return text.splitlines()


def run_file(config: RuleSet, path: str | os.PathLike[str]) -> list[CaseResult]:
    """Every case of a tests file."""
    tests = load_tests(path)
    return [run_case(config, case, tests.start, tests.tick) for case in tests.tests]


def default_tests_path(config_path: str | os.PathLike[str]) -> Path | None:
    """Where `alertbot test -c X.yaml` looks without TESTS: X_test.yaml beside it, then tests/."""
    cfg = Path(config_path)
    name = f"{cfg.stem}_test.yaml"
    for candidate in (
        cfg.with_name(name),
        cfg.parent / "tests" / name,
        cfg.parent / "tests" / "data" / name,
    ):
        if candidate.is_file():
            return candidate
    return None
