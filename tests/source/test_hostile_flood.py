"""A hostile server's flood of distinct bad frames: memory and log volume stay bounded."""

from __future__ import annotations

import logging
import time

import orjson

from alertbot.source.feed import Feed
from alertbot.source.normalize import Normalizer
from alertbot.source.problems import LOG_BUDGET, LOG_WINDOW, MAX_REASONS, OTHER, ProblemLog


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_12000_frames_with_unique_10kb_types_stay_bounded(caplog):
    clock = Clock()
    problems = ProblemLog(clock=clock)
    feed = Feed(Normalizer(on_problem=problems), problems=problems)
    feed.receive(0, b'{"type":"connected","connection_id":"c","message_id":0}', 0)
    caplog.set_level(logging.WARNING, logger="alertbot.source")
    started = time.perf_counter()
    for i in range(12_000):
        unique = f"{i:06d}" + "x" * 10_000  # a new 10 KB type every frame
        raw = orjson.dumps({"type": unique, "message_id": i + 1})
        assert feed.receive(0, raw, float(i)) == []
        clock.t = i * 0.005  # 60 s of flood
    took = time.perf_counter() - started
    assert problems.total == 12_000  # every frame counted
    assert len(problems.counts) <= MAX_REASONS  # memory keyed by server data is bounded
    assert problems.counts[OTHER] == 12_000 - (MAX_REASONS - 1)
    assert all(len(reason) <= 120 for reason in problems.counts)
    logged = "".join(r.getMessage() for r in caplog.records)
    assert len(caplog.records) <= LOG_BUDGET * (60 / LOG_WINDOW + 1) + 1
    assert len(logged) < 20_000  # was 332 MB of logs in 60 s
    assert took < 10  # no quadratic work per frame


def test_held_back_lines_are_counted_and_reported_once_the_minute_turns(caplog):
    clock = Clock()
    problems = ProblemLog(clock=clock)
    caplog.set_level(logging.WARNING, logger="alertbot.source")
    for i in range(LOG_BUDGET + 5):
        problems(f"reason {i}")
    assert len(caplog.records) == LOG_BUDGET
    assert problems.suppressed == 5
    clock.t = LOG_WINDOW
    problems("one more")
    said = [r.getMessage() for r in caplog.records]
    assert said[LOG_BUDGET] == (
        "5 more kinds of bad frames in the last 60s were not logged "
        "(counted in alertbot_skipped_frames_total)"
    )
    assert said[-1].startswith("skipped one more")
