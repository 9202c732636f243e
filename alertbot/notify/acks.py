"""Acknowledged alerts: an ack stops an alert's repeats until it resolves or changes severity.

Kept outside the rule engine on purpose: the engine still decides every reminder (its state and
replay stay pure); this filter drops, on the way to the outbox, the reminders of an identity
someone acknowledged. A resolve or a notification at another severity ends the ack, and both
the ack and its end are written to the state store, so a restart keeps them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace

from alertbot.core.model import AlertSummary, Notification
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
        out: list[Notification] = []
        for note in notes:
            if note.alerts:
                out.extend(self._group(note))
                continue
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

    def _group(self, note: Notification) -> list[Notification]:
        """A grouped note without its acknowledged reminders (none left: not sent at all)."""
        kept: list[AlertSummary] = []
        for member in note.alerts:
            ack = self.by_fingerprint.get(member.fingerprint) if member.fingerprint else None
            if ack is None:
                kept.append(member)
            elif member.status != "firing" or note.severity != ack.severity:
                self.forget(member.fingerprint)
                kept.append(member)
            elif member.repeat:
                self.dropped += 1
            else:
                kept.append(member)
        if len(kept) == len(note.alerts):
            return [note]
        if not kept:
            return []
        first = kept[0]
        if len(kept) == 1:  # told as the single alert it now is
            return [
                replace(note, alerts=(), labels=dict(first.labels), fingerprint=first.fingerprint,
                        title=first.title, message=first.message, starts_at=first.starts_at,
                        ends_at=first.ends_at, event=first.event, repeat=first.repeat,
                        flapping=first.flapping, values=first.values)
            ]  # fmt: skip
        return [
            replace(note, alerts=tuple(kept), title=first.title, message=first.message,
                    repeat=all(m.repeat for m in kept))
        ]  # fmt: skip

    def forget(self, fingerprint: str) -> None:
        """End one ack (resolved, changed severity, or no longer firing)."""
        if self.by_fingerprint.pop(fingerprint, None) is not None:
            self.store.drop(fingerprint)

    def keep_only(self, firing: Iterable[str]) -> None:
        """End the acks of identities no longer firing (a resolve told to no one, a reload)."""
        live = set(firing)
        for fingerprint in [f for f in self.by_fingerprint if f not in live]:
            self.forget(fingerprint)
