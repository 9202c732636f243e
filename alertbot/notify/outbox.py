"""Outbox wording that belongs to delivery: the report a fallback notifier receives.

The outbox rows themselves are stored by state (`alertbot.state.api.Outbox`); notify keeps no SQL.
"""

from __future__ import annotations

from alertbot.core.model import Notification


def dead_letter_note(note: Notification, notifier: str, error: str, fallback: str) -> Notification:
    """What the fallback notifier receives when `note` could not reach `notifier`."""
    return Notification(
        rule=note.rule,
        status=note.status,
        severity=note.severity,
        labels=dict(note.labels),
        title=f"[UNDELIVERED to {notifier}] {note.title}",
        message=f"alertbot gave up delivering this to '{notifier}': {error}\n\n{note.message}",
        at=note.at,
        notify=(fallback,),
        fingerprint=note.fingerprint,
        starts_at=note.starts_at,
        ends_at=note.ends_at,
        event=note.event,
        alerts=note.alerts,
    )
