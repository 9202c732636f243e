"""The risk family of kinds, for tests of other kinds that do not want them in their lists."""

from __future__ import annotations

from collections.abc import Iterable

from alertbot.core.events import STOP_STATES
from alertbot.core.model import Event

RISK_KINDS = frozenset({"risk", "risk.parent", "funding", *(f"stop.{s}" for s in STOP_STATES)})


def without_risk(events: Iterable[Event]) -> list[Event]:
    """The events minus risk, risk.parent, stop.* and funding (tested in test_risk_events.py)."""
    return [e for e in events if e.kind not in RISK_KINDS]
