"""Acknowledged alerts: an ack stops an alert's repeats until it resolves or changes severity.

Kept outside the rule engine on purpose: the engine still decides every reminder (its state and
replay stay pure); this filter drops, on the way to the outbox, the reminders of an identity
someone acknowledged. A resolve or a notification at another severity ends the ack, and both
the ack and its end are written to the state store, so a restart keeps them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from alertbot.core.model import Notification
from alertbot.state.api import AckRecord, Acks

log = logging.getLogger("alertbot.acks")


class AckBook:
    """The acks in memory (read on every notification) over their table in the store."""

    def __init__(self, store: Acks) -> None:
        self.store = store
        self.by_fingerprint = {a.fingerprint: a for a in store.all()}
        self.dropped = 0  # reminders not sent because acknowledged

    def ack(self, fingerprint: str, rule: str, severity: str, now: float, by: str = "") -> None:
        """Acknowledge one firing identity at its current severity."""
        record = AckRecord(fingerprint, rule, severity, now, by)
        self.store.put(record)
        self.by_fingerprint[fingerprint] = record
        log.info("alert %s (%s) acknowledged", rule, fingerprint)

    def filter(self, notes: Sequence[Notification]) -> list[Notification]:
        """The notes to send: acknowledged reminders dropped, ended acks forgotten."""
        if not self.by_fingerprint:
            return list(notes)
        out = []
        for note in notes:
            ack = self.by_fingerprint.get(note.fingerprint)
            if ack is None:
                out.append(note)
            elif note.status != "firing" or note.severity != ack.severity:
                self.forget(note.fingerprint)  # resolved or escalated: tell it, ack ends
                out.append(note)
            elif note.repeat:
                self.dropped += 1
            else:
                out.append(note)
        return out

    def forget(self, fingerprint: str) -> None:
        """End one ack (resolved, changed severity, or no longer firing)."""
        if self.by_fingerprint.pop(fingerprint, None) is not None:
            self.store.drop(fingerprint)

    def keep_only(self, firing: Iterable[str]) -> None:
        """End the acks of identities no longer firing (a resolve told to no one, a reload)."""
        live = set(firing)
        for fingerprint in [f for f in self.by_fingerprint if f not in live]:
            self.forget(fingerprint)
