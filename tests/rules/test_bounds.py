"""Memory the engine keys by server data is bounded and visible (issue 10)."""

from __future__ import annotations

import pytest

from alertbot.rules import oneoff
from tests.rules.helpers import engine, ev


def test_remembered_fill_ids_stop_at_the_bound_oldest_first(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(oneoff, "MAX_SEEN", 100)
    eng = engine("""
    - name: fills
      on: fill
      title: fill
    """)
    for i in range(150):
        eng.process(ev("fill", id=f"f{i}"), float(i))
    assert eng.sizes()["occurrence_ids"] == 100
    stats = eng.stats["fills"]
    eng.process(ev("fill", id="f149"), 151.0)
    assert stats.duplicates == 1  # the newest still de-duplicate
    eng.process(ev("fill", id="f0"), 152.0)
    assert stats.duplicates == 1  # the oldest were forgotten, as bounded
    assert eng.sizes()["occurrence_ids"] == 100
