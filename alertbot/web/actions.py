"""What the dashboard's buttons do: silence, expire a silence, acknowledge, retry a dead letter.

Each writes the state store first (so `alertbot silence list` and a restart see it), then the
in-memory copy the engine or delivery reads, and asks the hub to push the change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict

from alertbot.core.errors import AlertbotError
from alertbot.rules.silences import Silence
from alertbot.state.api import DEAD
from alertbot.web.board import Parts

MAX_SILENCE = 30 * 24 * 3600.0  # a silence from the page lasts at most this long
BY = "dashboard"


class ActionError(AlertbotError):
    """An action cannot be done (unknown alert, silence or letter; bad duration)."""


class Controls:
    """The dashboard's actions on the running app (`parts` reads it, `changed` pushes)."""

    def __init__(self, parts: Callable[[], Parts], changed: Callable[[], None]) -> None:
        self._parts = parts
        self._changed = changed

    def silence(self, fingerprint: str, seconds: float, comment: str = "") -> str:
        """Silence one active alert identity (its rule and labels) for `seconds`."""
        if not 0 < seconds <= MAX_SILENCE:
            raise ActionError(f"a silence lasts more than 0s and at most {MAX_SILENCE:.0f}s")
        parts = self._parts()
        alert = _active(parts, fingerprint)
        now = parts.now
        silence = Silence(
            uuid.uuid4().hex[:8], alert.rule, dict(alert.labels), now, now + seconds,
            comment[:200], BY,
        )  # fmt: skip
        parts.state.silences.put(silence.to_record(), now)
        parts.silences.replace(parts.state.silences.all())
        self._changed()
        return silence.id

    def expire(self, silence_id: str) -> None:
        """End a silence now."""
        parts = self._parts()
        now = parts.now
        found = [s for s in parts.silences.silences if s.id == silence_id and s.active(now)]
        if not found:
            raise ActionError(f"no active silence {silence_id!r}")
        ended = Silence(**{**asdict(found[0]), "ends_at": now})
        parts.state.silences.put(ended.to_record(), now)
        parts.silences.replace(parts.state.silences.all())
        self._changed()

    def ack(self, fingerprint: str) -> None:
        """Acknowledge a firing alert: its repeats stop until it resolves or escalates."""
        parts = self._parts()
        alert = _active(parts, fingerprint)
        if alert.state != "firing":
            raise ActionError(f"alert {alert.rule} is {alert.state}, not firing")
        parts.acks.ack(fingerprint, alert.rule, alert.severity, parts.now, BY)
        self._changed()

    def retry(self, row_id: int) -> None:
        """Put a dead letter back in its notifier's queue."""
        parts = self._parts()
        row = parts.state.outbox.get(row_id)
        if row is None or row.status != DEAD:
            raise ActionError(f"no dead letter #{row_id}")
        parts.state.outbox.requeue(row_id, parts.now)
        if parts.delivery is not None:
            parts.delivery.wake(row.notifier)
        self._changed()


def _active(parts: Parts, fingerprint: str) -> _Alert:
    for alert in parts.engine.active_alerts():
        if alert.fingerprint == fingerprint:
            return _Alert(alert.rule, alert.state, alert.labels, alert.severity)
    raise ActionError(f"no pending or firing alert {fingerprint!r}")


class _Alert:
    """The fields of an active alert an action needs."""

    def __init__(self, rule: str, state: str, labels: dict[str, str], severity: str) -> None:
        self.rule, self.state, self.labels, self.severity = rule, state, labels, severity
