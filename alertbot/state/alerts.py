"""Alert state across restarts: the engine's export_state(), saved in the state database.

Saved in the same transaction as the outbox rows of the notifications it produced
(`Delivery.submit_many(notes, state=...)`), so the two never disagree: if the outbox holds a
firing notification, the saved state says the alert was notified (no re-send after a restart), and
the firing alert is restored so its resolve is still sent when the condition clears.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from alertbot.state.db import StateDB, StateError

ENGINE_KEY = "engine"


class StatefulEngine(Protocol):
    """What this module needs of `alertbot.rules.engine.Engine`."""

    def export_state(self) -> dict[str, Any]:
        """JSON-safe alert state."""
        ...

    def import_state(self, state: dict[str, Any]) -> None:
        """Restore what export_state returned."""
        ...


class AlertStateStore:
    """Named JSON documents in the alert_state table; the engine's state is one of them."""

    def __init__(self, db: StateDB) -> None:
        self.db = db

    def save(self, state: dict[str, Any], now: float, *, name: str = ENGINE_KEY) -> None:
        """Replace the saved document atomically (joins the caller's transaction if any)."""
        blob = json.dumps(state, separators=(",", ":"), default=str)
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO alert_state (name, value, saved_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
                "saved_at = excluded.saved_at",
                (name, blob, now),
            )

    def load(self, *, name: str = ENGINE_KEY) -> dict[str, Any] | None:
        """The saved document, or None when nothing was saved yet."""
        raw = self.db.query("SELECT value FROM alert_state WHERE name = ?", (name,))
        if not raw:
            return None
        try:
            value = json.loads(raw[0][0])
        except ValueError as exc:
            raise StateError(f"saved alert state in {self.db.path} is unreadable: {exc}") from None
        if not isinstance(value, dict):
            raise StateError(f"saved alert state in {self.db.path} is not a JSON object")
        return value

    def save_engine(self, engine: StatefulEngine, now: float) -> None:
        """Save an engine's state (periodically and at shutdown)."""
        self.save(engine.export_state(), now)

    def restore_engine(self, engine: StatefulEngine) -> bool:
        """Load the saved state into a fresh engine; False when there was none."""
        state = self.load()
        if state is None:
            return False
        engine.import_state(state)
        return True
