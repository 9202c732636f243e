"""Silences: time-bounded mutes by rule and labels, matched in memory (state/ stores them)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from alertbot.core.errors import AlertbotError
from alertbot.state.api import SilenceRecord

KEEP_EXPIRED = 7 * 86_400.0  # expired silences stay listable for a week


class SilenceError(AlertbotError):
    """A silence cannot be created, found or stored."""


@dataclass(frozen=True, slots=True)
class Silence:
    """Mutes notifications of alerts whose rule and labels match, from starts_at to ends_at."""

    id: str
    rule: str  # a rule name or a glob
    labels: dict[str, str] = field(default_factory=dict)
    starts_at: float = 0.0
    ends_at: float = 0.0
    comment: str = ""
    created_by: str = ""

    def active(self, now: float) -> bool:
        """In force at `now`."""
        return self.starts_at <= now < self.ends_at

    def matches(self, rule: str, labels: dict[str, str]) -> bool:
        """The rule matches the name or glob and every silence label is equal."""
        if not fnmatchcase(rule, self.rule):
            return False
        return all(labels.get(k) == v for k, v in self.labels.items())

    def to_record(self) -> SilenceRecord:
        """What the store keeps."""
        return SilenceRecord(**asdict(self))

    @classmethod
    def from_record(cls, record: SilenceRecord) -> Silence:
        """Inverse of to_record."""
        return cls(**asdict(record))


class SilenceStore:
    """The silences in memory: the engine only calls `match`; state/ loads and saves them."""

    def __init__(self, records: Iterable[SilenceRecord] = ()) -> None:
        self.silences: list[Silence] = [Silence.from_record(r) for r in records]

    def replace(self, records: Iterable[SilenceRecord]) -> None:
        """Take what the store holds now (another process may have added or expired one)."""
        self.silences = [Silence.from_record(r) for r in records]

    def add(
        self, rule: str, labels: dict[str, str], duration: float, now: float, **extra: Any
    ) -> Silence:
        """Create a silence lasting `duration` seconds from `now`."""
        if duration <= 0:
            raise SilenceError("a silence needs a positive duration, e.g. --for 2h")
        silence_id = str(extra.pop("id", "") or uuid.uuid4().hex[:8])
        silence = Silence(silence_id, rule, dict(labels), now, now + duration, **extra)
        self.purge(now)
        self.silences.append(silence)
        return silence

    def expire(self, silence_id: str, now: float) -> Silence:
        """End a silence now; `silence_id` may be a unique prefix."""
        found = [s for s in self.silences if s.id.startswith(silence_id)]
        if len(found) != 1:
            what = "no silence" if not found else "more than one silence"
            raise SilenceError(f"{what} with id {silence_id!r}; see `alertbot silence list`")
        old = found[0]
        if not old.active(now):
            raise SilenceError(f"silence {old.id} is not active")
        new = Silence(**{**asdict(old), "ends_at": now})
        self.silences[self.silences.index(old)] = new
        return new

    def listing(self, now: float, *, expired: bool = False) -> list[Silence]:
        """Active (and pending) silences, plus recently expired ones when asked."""
        return [s for s in self.silences if expired or s.ends_at > now]

    def match(self, rule: str, labels: dict[str, str], now: float) -> Silence | None:
        """The first silence in force at `now` that matches, or None."""
        for silence in self.silences:
            if silence.active(now) and silence.matches(rule, labels):
                return silence
        return None

    def purge(self, now: float) -> None:
        """Forget silences that expired more than KEEP_EXPIRED ago."""
        self.silences = [s for s in self.silences if s.ends_at > now - KEEP_EXPIRED]
