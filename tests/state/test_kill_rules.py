"""A SIGKILL at any instant, then a restart, tells everything an uninterrupted run tells.

The model of `alertbot run`: every consumed batch (here: one event) and every tick commits what
the engine changed, together with the notifications it emitted (the outbox), in one
transaction. A kill loses whatever was not committed; nothing was, so a fresh engine restored
from the store must tell exactly what the uninterrupted engine tells (later, at most).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from alertbot.core.model import Event, Notification
from alertbot.rules import Engine
from alertbot.state.sqlite import SqliteStore
from tests.rules.helpers import config, ev

RULES = """
- {name: filled, on: fill}
- {name: low, on: account, when: equity < 1000, for: 5s}
- {name: hot, on: market, when: oracle_price > 100, repeat: 10s, group_wait: 2s}
- {name: lost, on: connection.lost}
"""
STEP = 0.5
UNTIL = 100.0
Told = tuple[str, str, tuple[tuple[str, str], ...], bool]
CONFIG = config(RULES)
# every second, and every half second around the grouped fills (10 to 17.5: the repro)
KILLS = sorted({float(t) for t in range(91)} | {10 + i * STEP for i in range(16)})


def timeline() -> list[tuple[float, Event]]:
    fills = [(10.0 + i * STEP, ev("fill", id=f"f{i}")) for i in range(4)]  # the repro
    return [
        *fills,
        (12.0, ev("connection.lost", conn=0)),  # a one-off kind without an id
        (12.5, ev("connection.lost", conn=0)),
        (20.0, ev("account", equity=900.0)),
        (22.0, ev("account", equity=950.0)),
        (27.0, ev("account", equity=990.0)),  # pending for 5 s: fires at 25
        (40.0, ev("account", equity=1200.0)),  # resolves
        (50.0, ev("market", oracle_price=150.0)),  # fires after group_wait, repeats every 10 s
        (81.0, ev("market", oracle_price=90.0)),  # resolves
    ]


def told(notes: list[Notification]) -> list[Told]:
    """Each alert told: (rule, status, labels, repeat); groups are taken apart."""
    out: list[Told] = []
    for note in notes:
        for alert in note.alerts or (note,):
            labels = tuple(sorted(alert.labels.items()))
            out.append((note.rule, alert.status, labels, alert.repeat))
    return out


def play(state_dir: Path, kill_at: float | None) -> list[Notification]:
    """Run the timeline, committing per batch and per tick; SIGKILL (no flush) at `kill_at`."""
    store = SqliteStore.open(state_dir)
    eng, out = Engine(CONFIG), []
    pending = sorted(timeline(), key=lambda pair: pair[0])
    t = 0.0
    while t <= UNTIL:
        while pending and pending[0][0] <= t:
            at, event = pending.pop(0)
            out += _commit(store, eng, eng.process(event, at), at)  # one batch, one transaction
        out += _commit(store, eng, eng.tick(t), t)
        if kill_at is not None and t == kill_at:  # kill -9: nothing more is written
            store.close()
            store, eng = SqliteStore.open(state_dir), Engine(CONFIG)
            eng.restore(store.rules.load())
        t = round(t + STEP, 6)
    store.close()
    return out


def _commit(store: SqliteStore, eng: Engine, notes: list[Notification], now: float) -> list:
    changes = eng.drain_state()
    if changes.rules or changes.history:  # the app writes these with the outbox rows
        store.save(changes, now)
    return notes


def test_the_uninterrupted_run_tells_what_the_timeline_implies(whole):
    assert sum(n for (rule, *_), n in whole.items() if rule == "filled") == 4
    assert sum(n for (rule, *_), n in whole.items() if rule == "lost") == 2
    assert [k[:2] for k in whole if k[0] == "low"] == [("low", "firing"), ("low", "resolved")]
    assert whole[("hot", "firing", (("ticker", "BTC-USD"),), True)] == 2  # at 64 and 76


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Counter[Told]:
    return Counter(told(play(tmp_path_factory.mktemp("whole"), None)))


@pytest.mark.parametrize("kill_at", KILLS)
def test_a_kill_at_any_instant_loses_nothing_and_repeats_nothing(tmp_path, whole, kill_at):
    assert Counter(told(play(tmp_path, kill_at))) == whole
