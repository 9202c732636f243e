"""`alertbot replay`: a recording through the real feed, normalizer and engine (a backtest)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson

from alertbot.config import Config
from alertbot.core.model import Event, Notification, iso_utc
from alertbot.rules.engine import Engine
from alertbot.source.feed import Feed
from alertbot.source.normalize import Normalizer
from alertbot.source.problems import ProblemLog
from alertbot.source.recording import replay_events

TICK = 1.0  # the longest the engine waits between ticks, on the recording's clock


@dataclass
class ReplaySummary:
    """What a recording would have notified: totals per rule and hour, flaps, frame problems."""

    events: int = 0
    notifications: int = 0
    by_rule: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_hour: Counter[str] = field(default_factory=Counter)
    flaps: Counter[str] = field(default_factory=Counter)
    problems: int = 0
    start: float | None = None
    end: float | None = None
    _resolved: set[str] = field(default_factory=set)

    def add(self, note: Notification) -> None:
        """Count one notification; firing again after a resolve is a flap."""
        self.notifications += 1
        self.by_rule[(note.rule, note.status)] += 1
        self.by_hour[iso_utc(note.at)[:13] + ":00Z"] += 1
        if note.status == "resolved":
            self._resolved.add(note.fingerprint)
        elif note.fingerprint in self._resolved:
            self._resolved.discard(note.fingerprint)
            self.flaps[note.rule] += 1


def engine_run(
    engine: Engine, events: Iterable[Event], summary: ReplaySummary
) -> Iterator[Notification]:
    """Drive the engine with events, and with ticks exactly when its timers fall due."""
    last = None
    for event in events:
        summary.events += 1
        summary.start = event.at if summary.start is None else summary.start
        summary.end = event.at
        if last is not None:
            yield from _ticks_until(engine, last, event.at)
        last = event.at
        yield from engine.process(event, event.at)
    if last is not None:
        yield from _ticks_until(engine, last, last + TICK)
        yield from engine.tick(last + TICK)


def _ticks_until(engine: Engine, after: float, until: float) -> Iterator[Notification]:
    """Tick at each due time in (after, until), and at least every TICK seconds."""
    now = after
    while True:
        due = min(engine.next_due(), now + TICK)
        if due <= now:  # a timer due in the past: run it now, then move on
            due = now + 1e-6
        if due >= until:
            return
        yield from engine.tick(due)
        now = due


def replay(config: Config, recording: str | Path, out: IO[str], *, as_json: bool) -> ReplaySummary:
    """Print what would have been notified, then a summary; sends nothing."""
    problems = ProblemLog()
    feed = Feed(
        Normalizer(on_problem=problems),
        gap_timeout=config.source.gap_timeout,
        silence_timeout=config.source.silence_timeout,
        problems=problems,
    )
    engine = Engine(config)
    summary = ReplaySummary()
    events = replay_events(recording, feed=feed, lookback=config.source.catchup.lookback)
    for note in engine_run(engine, events, summary):
        summary.add(note)
        out.write(render(note, as_json=as_json) + "\n")
    summary.problems = problems.total
    if not as_json:
        out.write(format_summary(summary))
    return summary


def render(note: Notification, *, as_json: bool) -> str:
    """One notification as a JSON object or a readable line."""
    if as_json:
        return orjson.dumps(
            {
                "rule": note.rule,
                "status": note.status,
                "severity": note.severity,
                "labels": note.labels,
                "title": note.title,
                "message": note.message,
                "at": iso_utc(note.at),
            }
        ).decode()
    return f"{iso_utc(note.at)} [{note.status.upper()}] {note.severity} {note.rule}: {note.title}"


def format_summary(summary: ReplaySummary) -> str:
    """The closing table: per rule, per hour, flaps."""
    span = ""
    if summary.start is not None and summary.end is not None:
        span = f" from {iso_utc(summary.start)} to {iso_utc(summary.end)}"
    lines = [
        "",
        f"replayed {summary.events} events{span}: {summary.notifications} notifications, "
        f"{summary.problems} skipped frames",
    ]
    rules = sorted({rule for rule, _ in summary.by_rule})
    for rule in rules:
        firing, resolved = summary.by_rule[(rule, "firing")], summary.by_rule[(rule, "resolved")]
        flaps = summary.flaps[rule]
        lines.append(f"  {rule:<30} firing {firing:>5}  resolved {resolved:>5}  flaps {flaps:>4}")
    if summary.by_hour:
        lines.append("per hour:")
        lines += [f"  {hour}  {count}" for hour, count in sorted(summary.by_hour.items())]
    return "\n".join(lines) + "\n"
